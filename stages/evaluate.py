"""Stage evaluate: accuracy, exact match and loss of one trained LM at every evaluation length."""

import _cli

from posenc import io
from posenc.analysis.evaluate import evaluate_lm
from posenc.data import synthetic
from posenc.engine import runtime
from posenc.nn.checkpoint import load_model


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__, task=True, pe=True, seed=True))
    task, pe, seed = args.task, args.pe, args.seed
    model, _ = load_model(layout.checkpoint(task, pe, seed))
    splits = synthetic.load_for_eval(layout.synthetic_data(task), task, cfg.synthetic)
    metrics = evaluate_lm(model, splits, task, cfg, synthetic.eval_lengths(cfg.synthetic),
                          runtime.load(layout.runtime, cfg.runtime.dtype))
    io.write_json(layout.eval_json(task, pe, seed), {"pe": pe, "task": task, "seed": seed, "lengths": metrics})
    print(f"{task}/{pe}/s{seed}: " + ", ".join(f"{L}: {m['token_acc']:.3f}/{m['exact_match']:.2f}"
                                              for L, m in metrics.items()))


if __name__ == "__main__":
    _cli.run(main)
