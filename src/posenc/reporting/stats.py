"""Intervals and paired comparisons: what lets the report rank two PEs, or forbids it (issue 15).

- Across seeds (3 or more): a Student-t 95 % interval of the mean over seeds, which covers
  seed-to-seed spread (initialisation and batch order), the larger source of noise here.
- One or two seeds: a percentile bootstrap over the evaluation items (sequences or reviews,
  resampled jointly for every seed), which covers only the finite evaluation sample. Labelled as such.
- Either way a share's interval that has collapsed to a point (every item or seed at one value) is replaced
  by the Wilson interval of its pooled items (share_interval).
- Comparisons: a paired t-test across seeds (both PEs trained with the same seeds and scored on the
  same evaluation sets), Holm-corrected over every comparison the report makes (Holm 1979).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
MIN_SEEDS = 3  # fewer seeds: intervals over the evaluation sample only, and no ranking
N_BOOT = 2000
BOOT_CHUNK = 4_000_000  # resampled values held at once (per seed): bounds the memory of a bootstrap
SEEDS_KIND = "t interval over seeds"
BOOT_KIND = "bootstrap over evaluation items (one model per seed: covers the sample, not seed spread)"


POINT_KIND = "; one that is a single point (every item or seed alike): the Wilson interval of the pooled items"


def interval_kind(n_seeds: int) -> str:
    return (SEEDS_KIND if n_seeds >= MIN_SEEDS else BOOT_KIND) + POINT_KIND


SHARE = (0.0, 1.0)  # the range of an accuracy, an exact match, an F1 or any other share


def t_interval(values, bounds: tuple[float, float] | None = None) -> list[float]:
    """95 % Student-t interval of the mean of `values` (one per seed), clipped to `bounds` where the
    quantity has them (SHARE for a share). The mean of a share lies in [0, 1], so the clipped interval
    covers it exactly as often as the unclipped one; with two or three seeds far apart the unclipped one
    can read [5 %, 129 %]."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2 or not np.isfinite(v).all():
        return [float("nan"), float("nan")]
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    lo, hi = v.mean() - half, v.mean() + half
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return [float(lo), float(hi)]


def bootstrap_interval(items: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], seed: int = 0) -> list[float]:
    """95 % percentile bootstrap of a statistic of items resampled along the evaluation items.

    items: (S, N, ...) = seeds x evaluation items; the same resample of items is used for every seed.
    statistic: takes a batch of resamples (B, S, N, ...) and returns one value per resample (B,), so that
    the N_BOOT resamples are scored in a few array operations rather than N_BOOT Python calls.
    Seeded: deterministic."""
    items = np.asarray(items)
    n = items.shape[1]
    idx = np.random.default_rng(seed).integers(0, n, (N_BOOT, n))  # (N_BOOT, N)
    draws = np.concatenate([np.asarray(statistic(np.moveaxis(items[:, chunk], 1, 0)), dtype=float)
                            for chunk in np.array_split(idx, min(N_BOOT, max(1, N_BOOT * n * items[0, 0].size // BOOT_CHUNK)))])
    if np.isnan(draws).all():  # e.g. a share of wrong targets for a model with none
        return [float("nan"), float("nan")]
    lo, hi = np.nanpercentile(draws, [50 * (1 - CONFIDENCE), 50 * (1 + CONFIDENCE)])
    return [float(lo), float(hi)]


def proportion_interval(successes: int, n: int) -> list[float]:
    """95 % Wilson score interval of a proportion (successes of n independent items, e.g. sequences copied
    exactly): for one model on one set of sequences, where seeds do not enter (Wilson 1927)."""
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return [float(ci.low), float(ci.high)]


def share_interval(ci: list[float], successes: float, n: float) -> list[float]:
    """A share's interval, or, where it has collapsed to a point, the Wilson interval of the pooled items
    (successes of n, rounded: a randomized PE's evaluation averages draws). The bootstrap and the t interval
    collapse when every item, or every seed, sits at one value: none of 256 sequences copied reads [0.0, 0.0],
    when 256 sequences cannot rule out about 1.5 %."""
    if n < 1 or not np.isfinite(ci).all() or ci[0] < ci[1]:
        return ci
    lo, hi = proportion_interval(min(round(successes), round(n)), round(n))
    return [min(ci[0], lo), max(ci[1], hi)]


def paired_test(a, b) -> dict:
    """Paired t-test of a - b across seeds (same seeds, same evaluation sets): mean difference and p."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = a - b
    if len(d) < 2 or not np.isfinite(d).all():
        return {"diff": float(np.nanmean(d)) if len(d) else float("nan"), "p": float("nan"), "n": len(d)}
    if np.allclose(d, d[0]):  # no spread at all: the t statistic is undefined
        return {"diff": float(d.mean()), "p": 0.0 if d[0] != 0 else 1.0, "n": len(d)}
    return {"diff": float(d.mean()), "p": float(stats.ttest_rel(a, b).pvalue), "n": len(d)}


def sample_p(a: float, b: float, n: int) -> float:
    """Two-sided p that two exact-match rates over the same n evaluation sequences differ (two-proportion z,
    unpooled). It says nothing about the spread between training seeds."""
    se = ((a * (1 - a) + b * (1 - b)) / n) ** 0.5
    return 2 * stats.norm.sf(abs(a - b) / se) if se > 0 else float(a == b)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given); NaN stays NaN."""
    p = np.asarray(pvalues, dtype=float)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    adjusted = np.full(len(p), np.nan)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()
