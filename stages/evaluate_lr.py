"""Stage evaluate_lr: one model of the learning-rate sweep (stage train_lr) at every evaluation length."""

import _cli
import _sweep

from posenc import io
from posenc.analysis.evaluate import evaluate_lm
from posenc.data import synthetic
from posenc.engine import runtime
from posenc.nn.checkpoint import load_model


def main() -> None:
    args, cfg, layout, (task, name, seed) = _sweep.setup(__doc__)
    model, _ = load_model(layout.checkpoint(task, name, seed))
    splits = synthetic.load_for_eval(layout.synthetic_data(task), task, cfg.synthetic)
    rt = runtime.load(layout.runtime, cfg.runtime.dtype)
    metrics = evaluate_lm(model, splits, task, cfg, list(cfg.synthetic.eval_lengths), rt)
    io.write_json(layout.eval_json(task, name, seed), {"pe": args.pe, "lr": args.lr, "task": task, "seed": seed,
                                                       "lengths": metrics})
    print(f"{task}/{name}/s{seed}: " + ", ".join(f"{L}: {m['token_acc']:.3f}/{m['exact_match']:.2f}"
                                                for L, m in metrics.items()))


if __name__ == "__main__":
    _cli.run(main)
