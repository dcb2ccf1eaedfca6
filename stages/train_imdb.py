"""Stage train_imdb: train one IMDb classifier (one PE) on reviews truncated at imdb.train_max_len."""

from pathlib import Path

import _cli

import posenc
from posenc import config
from posenc.artifacts import IMDB
from posenc.data import imdb
from posenc.engine import runtime
from posenc.engine.classify import train_classifier
from posenc.engine.resume import Snapshots, resume_key
from posenc.nn.checkpoint import save_trained
from posenc.nn.pe import check_sections
from posenc.nn.pe.base import Dims


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__, pe=True, seed=True))
    pe, seed, data = args.pe, args.seed, layout.imdb_data
    m, c = cfg.model, cfg.imdb  # a bad pe.<name> fails before any data is read
    check_sections({pe: cfg.pe.get(pe)}, Dims(m.d_model, m.n_heads, m.max_positions, c.train_max_len))
    splits = {name: imdb.load_split(data / f"{name}.npz") for name in ("train", "val")}
    vocab_size = imdb.load_tokenizer(data / "tokenizer.json").get_vocab_size()
    rt = runtime.load(layout.runtime, cfg.runtime.dtype)
    key = resume_key({"config": config.to_dict(cfg), "model": [IMDB, pe, seed]},
                     [data / "train.npz", data / "val.npz", data / "tokenizer.json", layout.runtime],
                     Path(posenc.__file__).parent)
    snapshots = Snapshots(layout.resume(IMDB, pe, seed, key), cfg.train.resume_every)
    with _cli.live_log(layout.live_dir(IMDB, pe, seed)) as log:  # a resumed run re-sends the rows it has
        out = train_classifier(cfg, pe, splits, vocab_size, seed, on_log=log, rt=rt, snapshots=snapshots)
    save_trained(layout, IMDB, pe, out, "epochs")
    s, t = out["summary"], out["timing"]
    print(f"imdb/{pe}/s{seed}: {s['steps']} steps, best epoch {s['best_epoch']}, "
          f"{t['wall_s']:.0f} s, {t['tokens_per_s']:.0f} tokens/s")


if __name__ == "__main__":
    _cli.run(main)
