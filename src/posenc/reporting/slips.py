"""Why 99 % per token can still be 0 % per sequence: wrong targets read as independent slips (issue 16).

A copy model that is right at almost every target can still fail almost every long sequence. If each of a
sequence's m targets is wrong independently with a small probability p, the number of wrong targets is
close to Poisson with mean lambda = m p, and the share of sequences with none, the exact match, is

    P(exact) = exp(-lambda)                                        (Poisson limit of (1 - p)^m)

So, per PE and evaluation length, this module sets the measured exact match beside exp(-lambda), with
lambda the mean number of wrong targets per sequence (per seed, then averaged): where the two agree the
errors are scattered slips, not a collapse of whole sequences. It also turns an exact-match bar into the
slip rate it requires, p* = -ln(bar) / m: issue 16's 95 % at 1,024 tokens (511 targets on copy) needs
p < 0.01 %, and the measured rates say how far off each model is, inside the training range and beyond.
Reads the per-sequence counts every evaluation records (`per_seq.right`, `targets`).
"""

from __future__ import annotations

import math

import numpy as np

EXTRAPOLATES = 0.9  # rows shown: mean token accuracy at the bar's length at least this (the near misses)


def slip_stats(lengths_of_seeds: list[dict], L: int) -> dict | None:
    """{lam, rate, poisson, exact, targets} at length L, each a mean over seeds: lam = wrong targets per
    sequence, rate = lam / targets, poisson = exp(-lam) per seed; None if a seed lacks per-sequence counts."""
    lams, poissons, exacts = [], [], []
    for lengths in lengths_of_seeds:
        ev = lengths.get(str(L))
        if ev is None or "right" not in ev.get("per_seq", {}):
            return None
        wrong = ev["targets"] - np.asarray(ev["per_seq"]["right"], dtype=float)  # (N,)
        lams.append(float(wrong.mean()))
        poissons.append(math.exp(-lams[-1]))
        exacts.append(float(ev["exact_match"]))
    m = lengths_of_seeds[0][str(L)]["targets"]
    lam = float(np.mean(lams))
    return {"lam": lam, "rate": lam / m, "poisson": float(np.mean(poissons)), "exact": float(np.mean(exacts)),
            "targets": m}


def needed_rate(bar: float, targets: int) -> float:
    """The per-target slip rate at which exp(-rate * targets) = bar."""
    return -math.log(bar) / targets


def slip_rows(evals: dict, task: str, names: list[str], seeds: list[int], lengths: list[int],
              bar_length: int) -> dict:
    """{name: {L: slip_stats}} for every name with all `seeds` whose mean token accuracy at `bar_length` is
    at least EXTRAPOLATES and whose evaluations record per-sequence counts at every length."""
    rows = {}
    for name in names:
        per_seed = [evals[(task, name, s)] for s in seeds if (task, name, s) in evals]
        if len(per_seed) != len(seeds) or str(bar_length) not in per_seed[0]:
            continue
        if np.mean([ls[str(bar_length)]["token_acc"] for ls in per_seed]) < EXTRAPOLATES:
            continue
        stats = {L: slip_stats(per_seed, L) for L in lengths}
        if all(v is not None for v in stats.values()):
            rows[name] = stats
    return rows


def verdict(task: str, rows: dict, bar: float, bar_length: int) -> str:
    """One line: the lowest slip rate at `bar_length` and how many times the rate `bar` allows it is."""
    best = min(rows, key=lambda n: rows[n][bar_length]["rate"])
    rate, m = rows[best][bar_length]["rate"], rows[best][bar_length]["targets"]
    return (f"- {task}, slips at {bar_length}: lowest per-target error rate {best}, {100 * rate:.3f} %, "
            f"{rate / needed_rate(bar, m):.0f}x the {100 * needed_rate(bar, m):.3f} % that {100 * bar:.0f} % "
            f"exact match over {m} targets allows (exact = exp(-slips per sequence) for independent slips).")


def slip_lines(evals: dict, task: str, names: list[str], seeds: list[int], lengths: list[int], bar: float,
               bar_length: int) -> list[str]:
    """Markdown for one task: a table of slips per sequence, slip rate and exp(-slips) against the measured
    exact match, for every row of slip_rows, and the verdict line. [] when no row qualifies."""
    rows = slip_rows(evals, task, names, seeds, lengths, bar_length)
    if not rows:
        return []
    m = next(iter(rows.values()))[bar_length]["targets"]
    head = [f"Slips: the PEs and variants at >= {100 * EXTRAPOLATES:.0f} % token accuracy at {bar_length}, each "
            f"cell 'wrong targets per sequence (per-target rate) -> exp(-slips) / measured exact match', mean "
            f"over {len(seeds)} seeds. Where exp(-slips) matches the exact match, the errors are independent "
            f"slips, not collapsed sequences; an exact match above it means the errors cluster in fewer "
            f"sequences. {100 * bar:.0f} % exact at {bar_length} ({m} targets) needs a slip rate under "
            f"{100 * needed_rate(bar, m):.3f} %.", "",
            "| PE | " + " | ".join(f"@{L}" for L in lengths) + " |", "|---|" + "---|" * len(lengths)]
    body = [f"| {name} | " + " | ".join(
        f"{s['lam']:.2f} ({100 * s['rate']:.2f} %) -> {100 * s['poisson']:.1f} / {100 * s['exact']:.1f}"
        for s in (stats[L] for L in lengths)) + " |" for name, stats in rows.items()]
    return head + body + ["", verdict(task, rows, bar, bar_length), ""]
