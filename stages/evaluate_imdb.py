"""Stage evaluate_imdb: accuracy, macro-F1 and loss of one classifier with test reviews truncated at each length."""

import _cli

from posenc import io
from posenc.analysis.evaluate_imdb import evaluate_classifier
from posenc.artifacts import IMDB
from posenc.data import imdb
from posenc.engine import runtime
from posenc.nn.checkpoint import load_model


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__, pe=True, seed=True))
    model, _ = load_model(layout.checkpoint(IMDB, args.pe, args.seed))
    test = imdb.test_subset(imdb.load_split(layout.imdb_data / "test.npz"), cfg.imdb.test_reviews, cfg.seed)
    rt = runtime.load(layout.runtime, cfg.runtime.dtype)
    metrics = evaluate_classifier(model, test, cfg, rt)
    variants = {v: evaluate_classifier(model, test, cfg, rt, variant=v)
                for v in model.pe.eval_variants}  # evaluation-only variants of the same weights (RoPE: pi, ntk, yarn)
    io.write_json(layout.eval_json(IMDB, args.pe, args.seed), {"pe": args.pe, "seed": args.seed, "lengths": metrics,
                                                               "variants": variants})
    print(f"imdb/{args.pe}/s{args.seed}: " + ", ".join(f"acc@{L} {m['acc']:.4f}" for L, m in metrics.items()))


if __name__ == "__main__":
    _cli.run(main)
