"""The learned PE on IMDb past its table: is the accuracy drop the one vector every late token shares?

The learned PE has one row per position up to the training length; every later position is clamped to a
single row (nn/pe/learned.py), so in a review cut at 1,024 tokens three quarters of the tokens carry the
same position vector, added to the residual stream that feeds attention and the mean-pooled head. This
evaluates trained IMDb classifiers with that shared vector replaced, no retraining, every position inside
the table left as trained:

    trained   the clamp row, as the pipeline uses it
    zero      no position vector at all past the table
    row:k     row k of the table (another vector of the same training)

Evaluation as the pipeline does it (analysis/evaluate_imdb.evaluate_classifier: the params' test subset,
each truncation length, per review-length bucket), in the workspace's precision (metrics/runtime.json).

    python bench/learned_clamp.py --root /tmp/ws --seeds 0 1 2 --vectors trained zero row:100

About 25 s per classifier and vector on a 2-core CPU (5,000 test reviews). Writes bench/learned_clamp.json:
per run and length the accuracy, per bucket, and from the training length on "changed_to", how many predictions
change to each class (negative, positive): a shared vector that pushes every long review one way shows there.
"""

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from time_to_accuracy import cpu_model  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.analysis.evaluate_imdb import evaluate_classifier  # noqa: E402
from posenc.artifacts import IMDB, Layout  # noqa: E402
from posenc.data import imdb  # noqa: E402
from posenc.engine import runtime  # noqa: E402
from posenc.errors import ConfigError, PosencError  # noqa: E402
from posenc.nn.checkpoint import load_model  # noqa: E402
from posenc.reporting.results import changed_to  # noqa: E402
from posenc.reporting.verdicts import reference_length  # noqa: E402


def replacement(pe, how: str) -> torch.Tensor | None:
    """The (D,) vector that positions past the table get instead of the clamp row (None: as trained)."""
    rows = pe.table.num_embeddings
    if how == "trained":
        return None
    if how == "zero":
        return torch.zeros(pe.table.embedding_dim)
    k = how.removeprefix("row:")
    if how.startswith("row:") and k.isdigit() and int(k) < rows:
        return pe.table.weight[int(k)].detach().clone()
    raise ConfigError(f"--vectors {how!r}: expected trained, zero or row:<k> with k < {rows}")


@contextmanager
def late_vector(model, vector: torch.Tensor | None):
    """Within the block, every position >= the table's length gets `vector` instead of the clamp row; the
    rows inside the table are untouched: the table gains one row holding `vector`, which the clamp points at."""
    pe = model.pe
    if vector is None:
        yield model
        return
    table, extra = pe.table, torch.nn.Embedding(pe.table.num_embeddings + 1, pe.table.embedding_dim)
    with torch.no_grad():
        extra.weight.copy_(torch.cat([table.weight, vector[None].to(table.weight.dtype)]))
    pe.table, pe.clamp_row = extra, lambda: torch.tensor(table.num_embeddings, device=table.weight.device)
    try:
        yield model
    finally:
        pe.table = table
        del pe.clamp_row  # back to the class's method


def changed(scores: dict, T: int, L: str) -> dict:
    """Where the predictions that change from T to L go: {"changed_to": [to negative, to positive]} (label id
    order, reporting/results.changed_to), {} at T itself."""
    if int(L) == T:
        return {}
    return {"changed_to": changed_to(scores[str(T)]["per_review"], scores[L]["per_review"])}


def scored(model, test, cfg, rt, T: int, how: str) -> dict:
    """One classifier evaluated with `how` past its table: per length the accuracy, per bucket, and changed()."""
    with late_vector(model, replacement(model.pe, how)):
        scores = evaluate_classifier(model, test, cfg, rt)
    return {L: {"acc": s["acc"], "buckets": {b: v["acc"] for b, v in s["buckets"].items()}, **changed(scores, T, L)}
            for L, s in scores.items()}


def workspace(root: Path) -> tuple:
    """(cfg, layout, runtime, the training length T, the params' test subset) of a workspace."""
    cfg, layout = config.load(root / "params.yaml"), Layout(root)
    rt = runtime.load(layout.runtime, cfg.runtime.dtype)
    T = reference_length(cfg.imdb.eval_lengths, cfg.imdb.train_max_len)
    test = imdb.test_subset(imdb.load_split(layout.imdb_data / "test.npz"), cfg.imdb.test_reviews, cfg.seed)
    return cfg, layout, rt, T, test


def run_all(root: Path, pe: str, seeds: list[int], hows: list[str], out: str, score) -> None:
    """score(model, test, cfg, rt, T, how) for every seed's `pe` classifier and every `how`, printed, and
    written to `out` beside the runs it already holds (other seeds' are kept)."""
    cfg, layout, rt, T, test = workspace(root)
    runs = io.read_json(out)["runs"] if Path(out).exists() else {}
    for seed in seeds:
        model, _ = load_model(layout.checkpoint(IMDB, pe, seed))
        for how in hows:
            run = runs[f"{pe}-{seed}-{how}"] = score(model, test, cfg, rt, T, how)
            print(f"{pe} seed {seed}, {how}: " + ", ".join(f"acc@{L} {r['acc']:.4f}" for L, r in run.items())
                  + "; changed to negative / positive: "
                  + ", ".join(f"@{L} {r['changed_to']}" for L, r in run.items() if "changed_to" in r))
    io.write_json(out, {"cpu_model": cpu_model(), "torch": torch.__version__, "dtype": rt.dtype,
                        "test_reviews": len(test), "runs": runs})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="a workspace holding params.yaml, models/ and data/imdb/")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--vectors", nargs="+", default=["trained", "zero"])
    ap.add_argument("--out", default="bench/learned_clamp.json")
    args = ap.parse_args()
    run_all(Path(args.root).expanduser(), "learned", args.seeds, args.vectors, args.out, scored)


if __name__ == "__main__":
    try:
        main()
    except PosencError as e:
        sys.exit(f"error: {e}")
