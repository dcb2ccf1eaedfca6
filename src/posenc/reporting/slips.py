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

Why the slips grow with the length, per key. A model that copies by looking up content scores every
earlier position as a candidate key. If each wrong key has a small, fixed chance of outscoring the right
one, the error per target grows in proportion to the number of keys its query sees, so the error per
target divided by that number stays constant across lengths, and exact match falls faster than
exponentially in the length. Errors at repeated token pairs are left out first (there the last two
tokens are ambiguous, a cause of their own; `per_seq.wrong_at_pairs`, `pairs`). A constant rate per key,
with its seed interval, says the slips come from more keys, not from distances or positions unseen in
training; a rising one says something besides the number of keys breaks with the length.
"""

from __future__ import annotations

import math

import numpy as np

from posenc.reporting.stats import t_interval

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


def mean_keys(seq_len: int, targets: int) -> float:
    """Mean number of keys (itself included) that a causal query sees, over the queries predicting the
    last `targets` tokens of a `seq_len` sequence: the query predicting position p sits at p - 1."""
    first = seq_len - targets
    return first + (targets - 1) / 2


def key_rates(ev: dict) -> dict | None:
    """One model at one length -> {other_error: error rate of the targets that are not at a repeated pair,
    pair_error (None without pairs), pair_targets, keys: mean_keys, per_key: other_error / keys};
    None when the evaluation has no pair records."""
    ps = ev.get("per_seq", {})
    if "wrong_at_pairs" not in ps:
        return None
    n_targets = ev["n_seqs"] * ev["targets"]
    wrong = n_targets - float(np.sum(ps["right"]))
    at_pairs, pairs = float(np.sum(ps["wrong_at_pairs"])), int(np.sum(ps["pairs"]))
    other = (wrong - at_pairs) / (n_targets - pairs)
    keys = mean_keys(ev["seq_len"], ev["targets"])
    return {"other_error": other, "pair_error": at_pairs / pairs if pairs else None, "pair_targets": pairs,
            "keys": keys, "per_key": other / keys}


def predicted_exact(base: dict, r: dict, ev: dict) -> float:
    """Exact match at a length predicted from key_rates at a shorter one (`base`): independent slips, the
    other errors at base's rate per key over this length's keys, repeated pairs at base's error rate over
    this length's pairs. Where it holds, nothing but the number of keys and of pairs changed."""
    pair = (base["pair_error"] or 0.0) * r["pair_targets"] / ev["n_seqs"]
    return math.exp(-(base["per_key"] * r["keys"] * ev["targets"] + pair))


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


def lowest(rows: dict, bar_length: int) -> str:
    """The name in slip_rows' `rows` with the lowest slip rate at `bar_length`."""
    return min(rows, key=lambda n: rows[n][bar_length]["rate"])


def times(ratio: float) -> str:
    """A ratio as 'x1.2' below 10 (where the first decimal decides over or under), else 'x12'."""
    return f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"


def verdict(task: str, rows: dict, bar: float, bar_length: int) -> str:
    """One line: the lowest slip rate at `bar_length` and how many times the rate `bar` allows it is."""
    best = lowest(rows, bar_length)
    rate, m = rows[best][bar_length]["rate"], rows[best][bar_length]["targets"]
    return (f"- {task}, slips at {bar_length}: lowest per-target error rate {best}, {100 * rate:.3f} %, "
            f"{times(rate / needed_rate(bar, m))} the {100 * needed_rate(bar, m):.3f} % that {100 * bar:.0f} % "
            f"exact match over {m} targets allows (exact = exp(-slips per sequence) for independent slips).")


def per_key(rates: list[dict]) -> str:
    """The mean rate per key over seeds, in units of 1e-6."""
    return f"{1e6 * np.mean([r['per_key'] for r in rates]):.2f}e-6"


def ratio_shape(lo: float, hi: float, keys: float) -> str:
    """What a 95 % interval [lo, hi] of the error rate per key (bar length over base length) says, where a
    query sees `keys` times as many keys at the bar length: the error rate per target changes by [lo, hi] x keys."""
    if lo > 1:
        return ("rising: the errors grow faster than the number of keys, so something besides the number of "
                "keys breaks with the length")
    if hi * keys < 1:
        return "falling: fewer errors per target at the longer length, with more keys"
    if hi < 1 and lo * keys > 1:
        return "falling: the errors per target grow with the length, but more slowly than the number of keys"
    if hi < 1:
        return "falling: the errors per target grow, if at all, more slowly than the number of keys"
    if lo <= 0.5 or hi >= 2:  # x1 is inside, but so is a halving or a doubling: the interval tells nothing
        wider = " or ".join(w for w, inside in (("halves", lo <= 0.5), ("doubles", hi >= 2)) if inside)
        return f"too wide to tell: the seeds do not separate a constant rate per key from one that {wider}"
    return ("consistent with a constant rate per key: each key a query sees adding the same small chance of a "
            "wrong match")


def key_verdict(evals: dict, task: str, name: str, seeds: list[int], base_length: int, bar: float,
                bar_length: int) -> str:
    """One line: `name`'s error per target per key at base_length and bar_length (mean over seeds), the
    ratio of the two with its 95 % t interval over seeds, what that says, the exact match at bar_length
    predicted from base_length's rates beside the measured one, and the rate per key the bar needs.
    Empty when a seed lacks pair records at either length."""
    per_seed = [evals[(task, name, s)] for s in seeds]
    base = [key_rates(ls[str(base_length)]) for ls in per_seed]
    far = [key_rates(ls[str(bar_length)]) for ls in per_seed]
    if any(r is None or r["per_key"] <= 0 for r in base) or any(r is None for r in far):
        return ""
    ratios = [f["per_key"] / b["per_key"] for b, f in zip(base, far)]
    lo, hi = t_interval(ratios)
    lo = max(lo, 0.0)  # a ratio of rates is never negative
    shape = ratio_shape(lo, hi, far[0]["keys"] / base[0]["keys"])
    evs = [ls[str(bar_length)] for ls in per_seed]
    predicted = np.mean([predicted_exact(b, f, ev) for b, f, ev in zip(base, far, evs)])
    exact = np.mean([ev["exact_match"] for ev in evs])
    need = needed_rate(bar, evs[0]["targets"]) / far[0]["keys"]
    return (f"- {task}, errors per key: {name}'s errors away from repeated token pairs, per target and per key "
            f"a query sees ({base[0]['keys']:.0f} keys at {base_length}, {far[0]['keys']:.0f} at {bar_length}): "
            f"{per_key(base)} at {base_length}, {per_key(far)} at {bar_length} (mean over {len(seeds)} seeds); "
            f"x{np.mean(ratios):.2f} [{lo:.2f}, {hi:.2f}] (95 % t over seeds), {shape}. From {base_length}'s "
            f"rates alone, exact match at {bar_length} would be {100 * predicted:.1f} % (measured "
            f"{100 * exact:.1f} %); {100 * bar:.0f} % needs a rate per key under {1e6 * need:.2f}e-6.")


def slip_lines(evals: dict, task: str, names: list[str], seeds: list[int], lengths: list[int], bar: float,
               bar_length: int) -> list[str]:
    """Markdown for one task: a table of slips per sequence, slip rate and exp(-slips) against the measured
    exact match, for every row of slip_rows, the verdict line and each row's key_verdict from the shortest
    length. [] when no row qualifies."""
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
    keys = [line for name in rows if (line := key_verdict(evals, task, name, seeds, min(lengths), bar, bar_length))]
    return head + body + ["", verdict(task, rows, bar, bar_length), *keys, ""]
