"""Does a classifier's IMDb accuracy change between the training length and a longer one? Tested on the same
reviews, and the report's sentence says so only when the test does.

A model's accuracies at truncation lengths T and L are scored on the same test reviews, so they are paired:
only the reviews whose verdict differs between the two lengths carry information. With one seed the test is
McNemar's exact test (McNemar 1947, in its exact form: the reviews right at L only against those right at T
only, a two-sided binomial test at 1/2); it covers the evaluation sample, not the training seed. With two
seeds or more it is a paired t-test over the seeds' accuracies, which covers the seeds as well.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from posenc.reporting import stats
from posenc.reporting.results import key

SAME_POINTS = 0.5  # a change smaller than this many accuracy points is "unchanged" whatever its p-value
ALPHA = 0.05


def correct(pred: str, label: str) -> np.ndarray:
    """Per review, whether the prediction is right; pred and label are strings of digits (analysis/evaluate_imdb)."""
    return np.frombuffer(pred.encode(), np.uint8) == np.frombuffer(label.encode(), np.uint8)


def mcnemar(at_t: dict, at_l: dict) -> dict:
    """McNemar's exact test of two evaluations' per_review records of the same reviews."""
    if at_t["label"] != at_l["label"]:
        raise ValueError("the two evaluations do not score the same reviews (their labels differ)")
    a, b = correct(at_t["pred"], at_t["label"]), correct(at_l["pred"], at_l["label"])
    only_t, only_l = int((a & ~b).sum()), int((~a & b).sum())
    p = float(sps.binomtest(only_l, only_t + only_l).pvalue) if only_t + only_l else 1.0
    return {"test": "McNemar", "p": p, "n": len(a), "only_t": only_t, "only_l": only_l}


def length_change(imdb_evals: dict, name: str, seeds: list[int], T: int, L: int) -> dict:
    """The test of `name`'s accuracy at L against T; imdb_evals keyed (name, seed) -> {str(length): evaluation},
    as results.read_inputs returns them."""
    if len(seeds) >= 2:
        acc = [[imdb_evals[(name, sd)][str(X)]["acc"] for sd in seeds] for X in (L, T)]
        return {"test": "paired t over seeds", **stats.paired_test(*acc)}
    ev = imdb_evals[(name, seeds[0])]
    return mcnemar(ev[str(T)]["per_review"], ev[str(L)]["per_review"])


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def described(t: dict) -> str:
    holm = f", Holm over {t['holm']} classifiers" if t.get("holm", 1) > 1 else ""
    if t["test"] == "McNemar":
        return f"McNemar p = {_p(t['p'])} on the same {t['n']:,} reviews, one model{holm}"
    return f"paired t over {t['n']} seeds, p = {_p(t['p'])}{holm}"


def change_text(row: dict, T: int, L: int, test: dict | None, pct) -> str:
    """'is unchanged at L', 'gains/loses x points at L' (with its test), or, when the test does not back the
    change, 'is within noise at L'. row: a results.json imdb row; pct formats an accuracy."""
    at = pct(row[key("acc", L)])
    if not math.isfinite(row[key("loss", L)]):
        return f"gives a NaN loss at {L} (scored 0)"
    delta = 100 * (row[key("acc", L)] - row[key("acc", T)])
    tested = f"; {described(test)}" if test else ""
    if abs(delta) < SAME_POINTS:
        return f"is unchanged at {L} ({at}, {delta:+.1f} points, under the {SAME_POINTS} called a change{tested})"
    if test and not test["p"] < ALPHA:  # a NaN p backs nothing either
        return f"is within noise at {L} ({at}, {delta:+.1f} points{tested})"
    return f"{'gains' if delta > 0 else 'loses'} {abs(delta):.1f} points at {L} ({at}{tested})"


def imdb_tests(imdb_evals: dict, seeds: list[int], T: int, L: int) -> dict[str, dict]:
    """length_change for every IMDb row (each PE and evaluation variant) of imdb_evals, its p Holm-corrected over
    all of them ("p_raw" keeps the test's own): the report makes one such claim per classifier."""
    tests = {name: length_change(imdb_evals, name, seeds, T, L) for name in sorted({n for n, _ in imdb_evals})}
    adjusted = stats.holm([t["p"] for t in tests.values()])
    return {name: {**t, "p_raw": t["p"], "p": float(q), "holm": len(tests)}
            for (name, t), q in zip(tests.items(), adjusted)}
