"""Stage train_imdb: train one IMDb classifier (one PE) on reviews truncated at imdb.train_max_len."""

import argparse
from pathlib import Path

import _cli

from posenc import config, io
from posenc.data import imdb
from posenc.train_imdb import train_classifier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--pe", required=True)
    ap.add_argument("--data", required=True, help="folder written by prepare_imdb")
    ap.add_argument("--model", required=True, help="checkpoint to write (.pt)")
    ap.add_argument("--log", required=True, help="training summary to write (.json)")
    ap.add_argument("--live", required=True, help="DVCLive folder for per-step loss/accuracy (dvc plots)")
    args = ap.parse_args()
    cfg = config.load(args.params)
    config.check_choice(args.pe, cfg.pes, "pes")
    data = Path(args.data)
    splits = {name: imdb.load_split(data / f"{name}.npz") for name in ("train", "val")}
    vocab_size = imdb.load_tokenizer(data / "tokenizer.json").get_vocab_size()

    with _cli.live_log(args.live) as log:
        out = train_classifier(cfg, args.pe, splits, vocab_size, on_log=log)
    io.save_checkpoint(args.model, {"config": config.to_dict(cfg), "pe": args.pe, "vocab_size": vocab_size,
                                    "state_dict": out["state_dict"]})
    io.write_json(args.log, {"summary": out["summary"], "timing": out["timing"], "epochs": out["epochs"]})
    s, t = out["summary"], out["timing"]
    print(f"imdb/{args.pe}: {s['steps']} steps, best epoch {s['best_epoch']}, "
          f"{t['wall_s']:.0f} s, {t['tokens_per_s']:.0f} tokens/s")


if __name__ == "__main__":
    _cli.run(main)
