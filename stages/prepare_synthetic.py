"""Stage prepare_synthetic: generate every split of every synthetic task once, from the seed."""

import argparse
from pathlib import Path

import _cli

from posenc import config, io
from posenc.data import synthetic


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", required=True, help="folder for <task>.npz")
    args = ap.parse_args()
    cfg = config.load(args.params)
    for task in cfg.synthetic.tasks:
        path = Path(args.out) / f"{task}.npz"
        io.save_npz(path, synthetic.generate(cfg.synthetic, task, cfg.seed))
        print(f"wrote {path}")


if __name__ == "__main__":
    _cli.run(main)
