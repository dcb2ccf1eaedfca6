"""Stage prepare_imdb: read IMDb, train the BPE tokenizer, write the tokenized splits and a length summary."""

import _cli

from posenc import io
from posenc.data import imdb


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__))
    tok, splits, summary = imdb.prepare(cfg.imdb, cfg.seed)
    out = layout.imdb_data
    with io.atomic_path(out / "tokenizer.json") as tmp:
        tok.save(str(tmp))
    for name, e in splits.items():
        io.save_npz(out / f"{name}.npz", imdb.to_arrays(e))
    io.write_json(layout.imdb_summary, summary)
    test = summary["lengths"]["test"]
    print(f"wrote {out}: vocab {summary['vocab_size']}, " + ", ".join(f"{k} {len(e)}" for k, e in splits.items())
          + f"; test p50/p90/p99 {test['p50']:.0f}/{test['p90']:.0f}/{test['p99']:.0f} tokens")


if __name__ == "__main__":
    _cli.run(main)
