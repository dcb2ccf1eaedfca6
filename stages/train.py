"""Stage train: train one causal LM (one PE, one synthetic task) with the shared recipe."""

import argparse

import _cli

from posenc import config, io
from posenc.data import synthetic
from posenc.train import train_lm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--pe", required=True)
    ap.add_argument("--task", required=True)
    ap.add_argument("--data", required=True, help="prepared <task>.npz")
    ap.add_argument("--model", required=True, help="checkpoint to write (.pt)")
    ap.add_argument("--log", required=True, help="training summary to write (.json)")
    ap.add_argument("--live", required=True, help="DVCLive folder for per-step loss/accuracy (dvc plots)")
    args = ap.parse_args()
    cfg = config.load(args.params)
    config.check_choice(args.pe, cfg.pes, "pes")
    config.check_choice(args.task, cfg.synthetic.tasks, "synthetic.tasks")
    splits = synthetic.load(args.data, args.task, cfg.synthetic.vocab_size)

    with _cli.live_log(args.live) as log:
        out = train_lm(cfg, args.pe, args.task, splits, on_log=log)
    io.save_checkpoint(args.model, {"config": config.to_dict(cfg), "pe": args.pe, "task": args.task,
                                    "state_dict": out["state_dict"]})
    io.write_json(args.log, {"summary": out["summary"], "timing": out["timing"], "checks": out["checks"]})
    s, t = out["summary"], out["timing"]
    print(f"{args.task}/{args.pe}: {s['steps']} steps, {s['stop_reason']}, "
          f"{t['wall_s']:.0f} s, {t['tokens_per_s']:.0f} tokens/s")


if __name__ == "__main__":
    _cli.run(main)
