"""Stage prepare_imdb: read IMDb, train the BPE tokenizer, write the tokenized splits and a length summary."""

import argparse
from pathlib import Path

import _cli

from posenc import config, io
from posenc.data import imdb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", required=True, help="folder for tokenizer.json and {train,val,test}.npz")
    ap.add_argument("--summary", required=True, help="length summary to write (.json)")
    args = ap.parse_args()
    cfg = config.load(args.params)
    tok, splits, summary = imdb.prepare(cfg.imdb, cfg.seed)
    out = Path(args.out)
    with io.atomic_path(out / "tokenizer.json") as tmp:
        tok.save(str(tmp))
    for name, e in splits.items():
        io.save_npz(out / f"{name}.npz", imdb.to_arrays(e))
    io.write_json(args.summary, summary)
    sizes = ", ".join(f"{k} {len(e)}" for k, e in splits.items())
    print(f"wrote {out}: vocab {summary['vocab_size']}, {sizes}; "
          f"test p50/p90/p99 {summary['lengths']['test']['p50']:.0f}/{summary['lengths']['test']['p90']:.0f}/"
          f"{summary['lengths']['test']['p99']:.0f} tokens")


if __name__ == "__main__":
    _cli.run(main)
