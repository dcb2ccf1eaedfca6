"""Stage probe_imdb: gradient norms and attention entropy of one IMDb classifier on long test reviews, and its
attention on a few whole validation reviews (token ids: data/probes/, DVC-cached, never in git)."""

import _cli

from posenc import io
from posenc.analysis.probes_imdb import probe_classifier, probe_reviews
from posenc.artifacts import IMDB
from posenc.data import imdb
from posenc.engine import runtime
from posenc.engine.runtime import seed_everything
from posenc.nn.checkpoint import load_model


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__, pe=True, seed=True))
    model, _ = load_model(layout.checkpoint(IMDB, args.pe, args.seed))
    test = imdb.load_split(layout.imdb_data / "test.npz")
    val = imdb.load_split(layout.imdb_data / "val.npz")
    seed_everything(cfg.seed)
    metrics = probe_classifier(model, test, list(cfg.probe.lengths), cfg.imdb.truncation, cfg.probe.batch_size)
    reviews, arrays = probe_reviews(model, val, cfg, runtime.resolve("float32", "cpu"))  # probes run on the CPU
    io.save_npz(layout.attention_maps(IMDB, args.pe, args.seed), arrays)
    io.write_json(layout.probe_json(IMDB, args.pe, args.seed),
                  {"pe": args.pe, "task": IMDB, "seed": args.seed, **metrics, "review_maps": reviews})
    print(f"imdb/{args.pe}/s{args.seed}: loss " + ", ".join(f"{L}: {g['loss']:.3g}" for L, g in metrics["gradients"].items()))


if __name__ == "__main__":
    _cli.run(main)
