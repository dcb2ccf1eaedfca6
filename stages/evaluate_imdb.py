"""Stage evaluate_imdb: accuracy, macro-F1 and loss of one classifier with test reviews truncated at each length."""

import argparse
from pathlib import Path

import _cli

from posenc import config, io
from posenc.data import imdb
from posenc.train_imdb import evaluate_classifier, load_classifier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--data", required=True, help="folder written by prepare_imdb")
    ap.add_argument("--model", required=True, help="checkpoint from train_imdb")
    ap.add_argument("--out", required=True, help="metrics to write (.json)")
    args = ap.parse_args()
    cfg = config.load(args.params)
    model, pe = load_classifier(args.model)
    test = imdb.load_split(Path(args.data) / "test.npz")
    metrics = evaluate_classifier(model, test, cfg)
    io.write_json(args.out, {"pe": pe, "lengths": metrics})
    print(f"imdb/{pe}: " + ", ".join(f"acc@{L} {m['acc']:.4f}" for L, m in metrics.items()))


if __name__ == "__main__":
    _cli.run(main)
