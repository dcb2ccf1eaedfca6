"""Stage evaluate: accuracy, exact match and loss of one trained LM at every evaluation length."""

import _cli

from posenc import io
from posenc.analysis.errors import pair_ambiguous
from posenc.analysis.evaluate import evaluate_lm
from posenc.data import synthetic
from posenc.engine import runtime
from posenc.nn.checkpoint import load_model


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__, task=True, pe=True, seed=True))
    task, pe, seed = args.task, args.pe, args.seed
    model, _ = load_model(layout.checkpoint(task, pe, seed))
    splits = synthetic.load_for_eval(layout.synthetic_data(task), task, cfg.synthetic, layout.far_data(task))
    lengths, rt = synthetic.eval_lengths(cfg.synthetic, far=True), runtime.load(layout.runtime, cfg.runtime.dtype)
    pairs = {L: pair_ambiguous(splits[f"eval_{L}"], task, cfg.synthetic.vocab_size) for L in cfg.synthetic.eval_lengths}
    metrics = evaluate_lm(model, splits, task, cfg, lengths, rt, pairs=pairs)
    variants = {v: evaluate_lm(model, splits, task, cfg, lengths, rt, variant=v, reuse=metrics, pairs=pairs)
                for v in model.pe.eval_variants}  # evaluation-only variants of the same weights (RoPE: pi, ntk, yarn)
    io.write_json(layout.eval_json(task, pe, seed), {"pe": pe, "task": task, "seed": seed, "lengths": metrics,
                                                     "variants": variants})
    print(f"{task}/{pe}/s{seed}: " + ", ".join(f"{L}: {m['token_acc']:.3f}/{m['exact_match']:.2f}"
                                              for L, m in metrics.items()))


if __name__ == "__main__":
    _cli.run(main)
