"""What scoring 5,000 of the 25,000 IMDb test reviews costs: the default's subset against the full set, same models.

The CPU default evaluates a fixed stratified subset of the test split (`imdb.test_reviews`,
data/imdb.test_subset); the study scores all 25,000. A study part scored on all of them keeps every
review's prediction (`per_review` in its evaluation files), so it holds both answers: this script rescores
the part's classifiers on exactly the reviews the default's subset picks (the same function, the same data
seed), trains and evaluates nothing, and prints per PE and length the mean [95 % t interval over seeds] on
all reviews and on the subset, the per-seed difference, and the part's paired, Holm-corrected claims at the
longest length on each.

    python bench/imdb_subset.py study/cpu_imdb_xeon --reviews 5000 --out bench/imdb_subset.json
"""

import argparse
import json
from pathlib import Path

import numpy as np

from posenc import io
from posenc.artifacts import IMDB
from posenc.data.imdb import Encoded, test_subset
from posenc.reporting import partial
from posenc.reporting.claims import comparisons, sentence
from posenc.reporting.results import key


def subset_index(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of the reviews data/imdb.test_subset keeps: it is run on a split whose review i is one token, i."""
    ids = Encoded(np.ones(len(labels), dtype=np.int64), np.arange(len(labels)), labels)
    return test_subset(ids, n, seed).tokens


def rescored(evals: dict, idx: np.ndarray) -> dict:
    """The part's evaluations ({(pe, seed): {L: scores}}) with accuracy on the reviews `idx` only."""
    out = {}
    for name, lengths in evals.items():
        out[name] = {}
        for L, s in lengths.items():
            pred, label = (np.frombuffer(s["per_review"][k].encode(), np.uint8)[idx] for k in ("pred", "label"))
            out[name][L] = {"acc": float((pred == label).mean()), "n": len(idx)}
    return out


def claims(cfg, rows: dict, far: int) -> str:
    full = {pe: r for pe, r in rows.items() if r["seeds"] == list(cfg.seeds)}
    results = {"seeds": list(cfg.seeds), "tasks": {}, IMDB: full}
    return sentence(results, comparisons(results, []), IMDB, "acc", far)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", type=Path, help="a study part scored on every test review (study/<part>)")
    ap.add_argument("--reviews", type=int, default=5000, help="the subset's size (the default's imdb.test_reviews)")
    ap.add_argument("--out", type=Path, help="write the numbers here as JSON")
    args = ap.parse_args()
    cfg = partial.load(args.part)[0]
    evals = partial.load_imdb(args.part)
    first = next(iter(next(iter(evals.values())).values()))
    if first["n"] <= args.reviews:
        raise SystemExit(f"error: {args.part} scored {first['n']} reviews, not more than --reviews {args.reviews}")
    labels = np.frombuffer(first["per_review"]["label"].encode(), np.uint8) - ord("0")
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
    if args.out:
        io.write_json(args.out, out)


if __name__ == "__main__":
    main()
