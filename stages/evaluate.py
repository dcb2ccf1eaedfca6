"""Stage evaluate: accuracy, exact match and loss of one trained LM at every evaluation length."""

import argparse

import _cli

from posenc import config, io
from posenc.errors import DataError
from posenc.data import synthetic
from posenc.evaluate import evaluate_lm
from posenc.train import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--data", required=True, help="prepared <task>.npz")
    ap.add_argument("--model", required=True, help="checkpoint from the train stage")
    ap.add_argument("--out", required=True, help="metrics to write (.json)")
    args = ap.parse_args()
    cfg = config.load(args.params)
    model, pe, task = load_model(args.model)
    splits = synthetic.load(args.data, task, cfg.synthetic.vocab_size)
    lengths = synthetic.eval_lengths(cfg.synthetic)
    missing = [L for L in lengths if f"eval_{L}" not in splits]
    if missing:
        raise DataError(f"{args.data}: no evaluation split for lengths {missing} (re-run prepare_synthetic)")
    metrics = evaluate_lm(model, splits, task, cfg, lengths)
    io.write_json(args.out, {"pe": pe, "task": task, "lengths": metrics})
    print(f"{task}/{pe}: " + ", ".join(f"{L}: {m['token_acc']:.3f}" for L, m in metrics.items()))


if __name__ == "__main__":
    _cli.run(main)
