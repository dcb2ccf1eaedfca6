"""Does a code change leave the models as they were? Fingerprints of tiny trained models, to diff across checkouts.

Trains every PE of `--pes` on the synthetic tasks with `make quick`'s shrunk params (posenc.quick.quick_params)
and prints, per task, an md5 of the generated data and, per PE, an md5 of the trained weights and the
evaluation counts at the longest length. Run it once with each checkout's code on the path and diff the two
outputs: identical lines mean the change trains byte-identical models (on this machine and thread count).

    PYTHONPATH=/tmp/old/src python bench/same_weights.py > /tmp/old.txt
    PYTHONPATH=src python bench/same_weights.py > /tmp/new.txt && diff /tmp/old.txt /tmp/new.txt && echo identical

About 2 minutes for eight PEs on a 2-core CPU. Prints only; writes nothing.
"""

import argparse
import hashlib
from pathlib import Path

import yaml

from posenc import config
from posenc.data import synthetic
from posenc.engine import lm
from posenc.quick import quick_params

PES = ["alibi", "hard_alibi", "rope", "nope", "learned", "sinusoidal", "t5", "fire"]


def md5(arrays) -> str:
    return hashlib.md5(b"".join(a.tobytes() for a in arrays)).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="params.yaml", help="shrunk as `make quick` shrinks it")
    ap.add_argument("--pes", nargs="+", default=PES)
    args = ap.parse_args()
    cfg = config.from_dict(quick_params(yaml.safe_load(Path(args.params).read_text())))
    rt = lm.resolve(cfg.runtime.dtype)
    for task in ("copy", "duplicate"):
        arrays = synthetic.generate(cfg.synthetic, task, cfg.seed)
        print(task, "data", md5(arrays[k] for k in sorted(arrays)), flush=True)
        splits = {k[: -len("_lengths")]: synthetic.Sources(arrays[k], arrays[k[: -len("_lengths")] + "_tokens"])
                  for k in arrays if k.endswith("_lengths")}
        longest = splits[f"eval_{cfg.synthetic.eval_lengths[-1]}"]
        for pe in args.pes:
            out = lm.train_lm(cfg, pe, task, splits, 0, progress=False, rt=rt)
            scores = lm.score_sequences(out["model"], longest, task, cfg, rt)
            print(task, pe, md5(v.numpy() for v in out["state_dict"].values()),
                  int(scores["right"].sum()), int(scores["exact"].sum()), flush=True)


if __name__ == "__main__":
    main()
