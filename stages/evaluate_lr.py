"""Stage evaluate_lr: one model of the learning-rate sweep (stage train_lr) at every evaluation length."""

import _cli

from posenc import io
from posenc.analysis.evaluate import evaluate_lm
from posenc.artifacts import sweep_name
from posenc.data import synthetic
from posenc.engine import runtime
from posenc.errors import ConfigError
from posenc.nn.checkpoint import load_model


def main() -> None:
    ap = _cli.parser(__doc__, pe=True)
    ap.add_argument("--lr", required=True, type=float, help="a learning rate listed in `lr_sweep`")
    args, cfg, layout = _cli.setup(ap)
    if args.lr not in cfg.lr_sweep:
        raise ConfigError(f"lr_sweep: {args.lr:g} is not listed (got {list(cfg.lr_sweep)})")
    task, seed, name = cfg.synthetic.headline_task, cfg.seeds[0], sweep_name(args.pe, args.lr)
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
