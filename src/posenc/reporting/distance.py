"""The report's reading of the distance probe (analysis/probes_lm.distance_probe, issue 15): does a model's
exact match at the training length fall when a prefix grows the largest query-key distance, when a shift
moves every absolute position, or neither? Each verdict compares 95 % Wilson intervals over the probe's
sequences (one model, one seed: the interval covers the sequence sample only)."""

from __future__ import annotations

from collections.abc import Callable

from posenc.reporting.stats import proportion_interval

TOO_LOW = 0.1  # below this exact match at K = 0 (interval's upper end) the probe has nothing to lose


def _interval(p: float, n: int) -> list[float]:
    return proportion_interval(round(p * n), n)


def verdict(dist: dict) -> str:
    """One computed sentence: what the exact match at the largest K follows."""
    n, ks = dist["n"], sorted(dist["prefix"], key=int)
    k0, k = ks[0], ks[-1]
    base = _interval(dist["prefix"][k0]["exact"], n)
    if base[1] < TOO_LOW:
        return f"Exact match is too low at K={k0} for the probe to tell what it follows."
    below = {part: _interval(dist[part][k]["exact"], n)[1] < base[0] for part in ("prefix", "shift")}
    where = f"at K={k}, by 95 % Wilson intervals over the {n} sequences"
    if below["shift"]:
        both = " (the prefix too)" if below["prefix"] else ""
        return (f"A shift alone takes exact match below its K={k0} interval{both} {where}: the model depends on "
                "absolute positions.")
    if below["prefix"]:
        return (f"The prefix takes exact match below its K={k0} interval and the shift does not {where}: the "
                "collapse follows the longer context (the largest query-key distance, the number of tokens), "
                "not the absolute positions and not the copy offset.")
    return (f"Neither the prefix nor the shift takes exact match below its K={k0} interval {where}: what this "
            "model loses at longer lengths comes from what the probe holds fixed, longer sources and copy "
            "offsets.")


def sentence(dist: dict, pct: Callable[[float], str]) -> str:
    """The probe's numbers and its verdict, for the report's per-PE section."""
    ks = sorted(dist["prefix"], key=int)
    show = lambda part, m: ", ".join(f"{pct(dist[part][k][m])} at K={k}" for k in ks)  # noqa: E731
    return (f"Distance probe ({dist['n']} validation copies at the training length, copy offsets as in "
            f"training; {dist['scored']} scored, since after a prefix nothing marks where the source begins): "
            f"exact match after a prefix of K random tokens {show('prefix', 'exact')} (the 3-token content rule "
            f"on the same sequences: {show('prefix', 'rule_exact')}); with every position shifted by K "
            f"{show('shift', 'exact')}. {verdict(dist)}")
