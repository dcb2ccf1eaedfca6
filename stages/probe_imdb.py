"""Stage probe_imdb: gradient norms and attention entropy of one IMDb classifier on long test reviews."""

import argparse
from pathlib import Path

import _cli

from posenc import config, io
from posenc.data import imdb
from posenc.probes import probe_classifier
from posenc.train import seed_everything
from posenc.train_imdb import load_classifier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--data", required=True, help="folder written by prepare_imdb")
    ap.add_argument("--model", required=True, help="checkpoint from train_imdb")
    ap.add_argument("--out", required=True, help="probe metrics to write (.json)")
    args = ap.parse_args()
    cfg = config.load(args.params)
    model, pe = load_classifier(args.model)
    test = imdb.load_split(Path(args.data) / "test.npz")
    seed_everything(cfg.seed)
    metrics = probe_classifier(model, test, list(cfg.probe.lengths), cfg.imdb.truncation, cfg.probe.batch_size)
    io.write_json(args.out, {"pe": pe, "task": "imdb", **metrics})
    print(f"imdb/{pe}: loss " + ", ".join(f"{L}: {g['loss']:.3g}" for L, g in metrics["gradients"].items()))


if __name__ == "__main__":
    _cli.run(main)
