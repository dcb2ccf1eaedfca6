"""Stage probe: gradient norms, attention entropy, source mass and attention maps of one trained LM."""

import argparse

import _cli

from posenc import config, io
from posenc.data import synthetic
from posenc.errors import DataError
from posenc.probes import probe_lm
from posenc.train import load_model, seed_everything


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--data", required=True, help="prepared <task>.npz")
    ap.add_argument("--model", required=True, help="checkpoint from the train stage")
    ap.add_argument("--out", required=True, help="probe metrics to write (.json)")
    ap.add_argument("--maps", required=True, help="attention maps to write (.npz)")
    args = ap.parse_args()
    cfg = config.load(args.params)
    model, pe, task = load_model(args.model)
    splits = synthetic.load(args.data, task, cfg.synthetic.vocab_size)
    lengths = synthetic.eval_lengths(cfg.synthetic)
    missing = [L for L in lengths if f"eval_{L}" not in splits]
    if missing:
        raise DataError(f"{args.data}: no evaluation split for lengths {missing} (re-run prepare_synthetic)")
    seed_everything(cfg.seed)
    p = cfg.probe
    metrics, maps = probe_lm(model, splits, task, cfg.synthetic.vocab_size, list(p.lengths), lengths,
                             list(p.map_lengths), p.batch_size)
    io.save_npz(args.maps, maps)
    io.write_json(args.out, {"pe": pe, "task": task, **metrics})
    grads = metrics["gradients"]
    print(f"{task}/{pe}: loss " + ", ".join(f"{L}: {g['loss']:.3g}" for L, g in grads.items()))


if __name__ == "__main__":
    _cli.run(main)
