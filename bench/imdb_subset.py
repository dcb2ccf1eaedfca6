"""What scoring 5,000 of the 25,000 IMDb test reviews costs: the default's subset against the full set, same models.

The CPU default evaluates a fixed stratified subset of the test split (`imdb.test_reviews`,
data/imdb.test_subset); the study scores all 25,000. A study part scored on all of them keeps every
review's prediction (`per_review` in its evaluation files), so it holds both answers: this script rescores
the part's classifiers on exactly the reviews the default's subset picks (the same function, the same data
seed), trains and evaluates nothing, and prints per PE and length the mean [95 % t interval over seeds] on
all reviews and on the subset, the per-seed difference, and the part's paired, Holm-corrected claims at the
longest length on each.

With --against, a part that scored only the subset (the same PEs and seeds trained with the same recipe,
for example on another CPU kind) is set beside it, model by model: the accuracy of each on the subset and
the share of the subset's reviews both classify alike.

With --workspace and --check, named models of the part are evaluated again from the workspace's
checkpoints on the subset itself, as the default's evaluation stage batches it, and their predictions are
compared with the rescored ones: what batching the subset apart changes (bf16 rounds differently per batch).

    python bench/imdb_subset.py study/cpu_imdb_xeon --reviews 5000 --against study/cpu_imdb \
        --workspace ~/.cache/posenc-study-imdb-xeon --check sinusoidal/1 alibi/2 --out bench/imdb_subset.json
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from posenc import io
from posenc.artifacts import IMDB
from posenc.data.imdb import Encoded, test_subset
from posenc.errors import PosencError
from posenc.reporting import partial
from posenc.reporting.claims import comparisons, sentence
from posenc.reporting.results import key


def subset_index(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of the reviews data/imdb.test_subset keeps: it is run on a split whose review i is one token, i."""
    ids = Encoded(np.ones(len(labels), dtype=np.int64), np.arange(len(labels)), labels)
    return test_subset(ids, n, seed).tokens


def digits(scores: dict, which: str = "pred") -> np.ndarray:
    """One evaluation's per-review predictions (or labels) as an array of digit characters."""
    return np.frombuffer(scores["per_review"][which].encode(), np.uint8)


def rescored(evals: dict, idx: np.ndarray) -> dict:
    """The part's evaluations ({(pe, seed): {L: scores}}) with accuracy on the reviews `idx` only."""
    out = {}
    for name, lengths in evals.items():
        out[name] = {}
        for L, s in lengths.items():
            pred, label = (digits(s, k)[idx] for k in ("pred", "label"))
            out[name][L] = {"acc": float((pred == label).mean()), "n": len(idx)}
    return out


def against(evals: dict, idx: np.ndarray, other: dict) -> dict:
    """{"pe/seed": {L: {"this", "other", "agree"}}} for every model in both: the accuracy of this part's model
    on the reviews `idx` and of the other part's (scored on those reviews only), and the share of them both
    classify alike. The other part must hold the same reviews in the same order (its labels are compared)."""
    out = {}
    for (pe, seed), lengths in evals.items():
        if (pe, seed) not in other:
            continue
        out[f"{pe}/{seed}"] = {}
        for L, s in lengths.items():
            o = other[(pe, seed)][L]
            if o["per_review"]["label"] != "".join(s["per_review"]["label"][i] for i in idx):
                raise SystemExit(f"error: {pe}/s{seed} at {L}: the other part scored other reviews than the subset")
            mine = digits(s)[idx]
            out[f"{pe}/{seed}"][L] = {"this": float((mine == digits(s, "label")[idx]).mean()), "other": o["acc"],
                                      "agree": float((mine == digits(o)).mean())}
    return out


def rerun(workspace: Path, models: list[str], n: int, sub_idx: np.ndarray, evals: dict) -> dict:
    """{"pe/seed": {L: share of the subset's reviews whose prediction the direct evaluation repeats}}."""
    from posenc import config
    from posenc.analysis.evaluate_imdb import evaluate_classifier
    from posenc.data import imdb
    from posenc.engine import runtime
    from posenc.nn.checkpoint import load_model

    cfg = config.load(workspace / "params.yaml")
    rt = runtime.load(workspace / "metrics/runtime.json", cfg.runtime.dtype)
    test = imdb.test_subset(imdb.load_split(workspace / "data/imdb/test.npz"), n, cfg.seed)
    out = {}
    for name in models:
        pe, seed = name.split("/")
        model, _ = load_model(workspace / f"models/{IMDB}_{pe}_s{seed}.pt")
        direct = evaluate_classifier(model, test, cfg, rt)
        out[name] = {L: float((digits(d) == digits(evals[(pe, int(seed))][L])[sub_idx]).mean())
                     for L, d in direct.items()}
        print(f"{name}: the direct evaluation on the subset repeats "
              + ", ".join(f"{100 * v:.2f} % at {L}" for L, v in out[name].items()) + " of the rescored predictions")
    return out


def claims(cfg, rows: dict, far: int) -> str:
    full = {pe: r for pe, r in rows.items() if r["seeds"] == list(cfg.seeds)}
    results = {"seeds": list(cfg.seeds), "tasks": {}, IMDB: full}
    return sentence(results, comparisons(results, []), IMDB, "acc", far)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", type=Path, help="a study part scored on every test review (study/<part>)")
    ap.add_argument("--reviews", type=int, default=5000, help="the subset's size (the default's imdb.test_reviews)")
    ap.add_argument("--against", type=Path, help="a part scored on the subset only, set beside it model by model")
    ap.add_argument("--workspace", type=Path, help="the study workspace the part came from (its checkpoints)")
    ap.add_argument("--check", nargs="*", default=[], help="pe/seed models to evaluate again on the subset itself")
    ap.add_argument("--out", type=Path, help="write the numbers here as JSON")
    args = ap.parse_args()
    cfg = partial.load(args.part)[0]
    evals = partial.load_imdb(args.part)
    if not evals:
        raise SystemExit(f"error: {args.part} has no IMDb classifiers (metrics/eval/imdb_*.json)")
    first = next(iter(next(iter(evals.values())).values()))
    if first["n"] <= args.reviews:
        raise SystemExit(f"error: {args.part} scored {first['n']} reviews, not more than --reviews {args.reviews}")
    labels = digits(first, "label") - ord("0")
    idx = subset_index(labels, args.reviews, cfg.seed)
    sub = rescored(evals, idx)
    lengths, far = [str(L) for L in cfg.imdb.eval_lengths], max(cfg.imdb.eval_lengths)
    rows_all, rows_sub = partial.imdb_rows(cfg, evals), partial.imdb_rows(cfg, sub)
    print(f"{args.part}: {first['n']} reviews against the default's subset of {len(idx)} "
          f"({int(labels[idx].sum())} positive), accuracy in %, mean [95 % t over seeds]\n")
    print("| PE | L | all reviews | subset | subset - all, per seed (points) |\n|---|---|---|---|---|")
    out = {"part": str(args.part), "reviews": first["n"], "subset": len(idx), "rows": {}}
    for pe in rows_all:
        out["rows"][pe] = {}
        for L in lengths:
            a, s = (r[pe]["per_seed"][key("acc", L)] for r in (rows_all, rows_sub))
            d = [100 * (y - x) for x, y in zip(a, s)]
            out["rows"][pe][L] = {"all": a, "subset": s}
            print(f"| {pe} | {L} | {partial.cell(a)} | {partial.cell(s)} | {' / '.join(f'{x:+.1f}' for x in d)} |")
    diffs = [abs(y - x) for r in out["rows"].values() for v in r.values() for x, y in zip(v["all"], v["subset"])]
    out["max_abs_diff"] = max(diffs)
    out["claims"] = {"all": claims(cfg, rows_all, far), "subset": claims(cfg, rows_sub, far)}
    print(f"\nlargest |subset - all| of one model: {100 * max(diffs):.2f} points")
    print(f"claims, all reviews: {out['claims']['all']}\nclaims, subset: {out['claims']['subset']}")
    if args.against:
        out["against"] = {"part": str(args.against), "models": against(evals, idx, partial.load_imdb(args.against))}
        models, F = out["against"]["models"], str(far)
        print(f"\n| model | this part @{far}, subset | {args.against} @{far} | reviews classified alike |\n|---|---|---|---|")
        for name, v in models.items():
            print(f"| {name} | {100 * v[F]['this']:.2f} | {100 * v[F]['other']:.2f} | {100 * v[F]['agree']:.1f} % |")
        gaps = [abs(v[L]["this"] - v[L]["other"]) for v in models.values() for L in lengths]
        alike = [v[L]["agree"] for v in models.values() for L in lengths]
        spread = [max(v) - min(v) for pe in rows_sub for v in [rows_sub[pe]["per_seed"][key("acc", far)]] if len(v) > 1]
        print(f"\nover {len(models)} models and {len(lengths)} lengths: |this - other| mean {100 * np.mean(gaps):.2f}, "
              f"largest {100 * max(gaps):.2f} points; classified alike {100 * min(alike):.1f}-{100 * max(alike):.1f} % of "
              f"the reviews; for scale, the spread of one PE's seeds at {far} on the subset (max - min): median "
              f"{100 * np.median(spread):.2f}, {100 * min(spread):.2f}-{100 * max(spread):.2f} points")
    if args.check:
        out["direct"] = rerun(args.workspace.expanduser(), args.check, args.reviews, idx, evals)
    if args.out:
        io.write_json(args.out, out)


if __name__ == "__main__":
    try:
        main()
    except (PosencError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
