"""The report's reading of the distance probe (analysis/probes_lm.distance_probe, issue 15).

Sequences of the training length are scored after a prefix of K random tokens (the largest query-key
distance grows, the copy offset stays as in training) and with every position shifted by K (only absolute
positions move). Three computed readings, each by 95 % intervals (one model, one seed: they cover the
sequence sample only; Wilson for the probe's proportions, the evaluation's own bootstrap interval):

1. does a shift alone lower exact match (the model depends on absolute positions)?
2. does the prefix lower it, and how much of that is the prefix's content: the 3-token content rule, which
   ignores positions, is scored on the same prefixed sequences (random tokens are distractors for it too)?
3. at about the same total length, does keeping the copy offset as in training (the prefix) score higher
   than the evaluation's longer copies? Then the copy offset costs more than the largest distance (an equal
   length ranks the two; it cannot show that either one costs nothing).
"""

from __future__ import annotations

from collections.abc import Callable

from posenc.reporting.stats import proportion_interval

TOO_LOW = 0.1  # below this exact match at K = 0 (interval's upper end) the probe has nothing to lose
SAME_LENGTH = 0.02  # a prefixed sequence and an evaluation length count as "about the same" within this share


def _ci(p: float, n: int) -> list[float]:
    return proportion_interval(round(p * n), n)


def _order(a: list[float], b: list[float]) -> int:
    """+1 if interval a lies above b, -1 if below, 0 if they overlap."""
    return 1 if a[0] > b[1] else -1 if a[1] < b[0] else 0


def too_low(dist: dict) -> bool:
    """Exact match at K = 0 is too low (interval's upper end below TOO_LOW) for any reading."""
    return _ci(dist["prefix"][min(dist["prefix"], key=int)]["exact"], dist["n"])[1] < TOO_LOW


def _since(dist: dict, part: str, ks: list[str], base: list[float]) -> str:
    """Where `part`'s exact match is below the K = 0 interval: "from K=63 on" when it is at every K from there
    to the largest (a reader should see how soon it falls, not only that it has at the end), else "at K=<largest>"."""
    below = [_order(_ci(dist[part][x]["exact"], dist["n"]), base) < 0 for x in ks]
    first = len(ks)
    while below[first - 1]:  # back to the start of the run that ends at the largest K (K = 0 is never below)
        first -= 1
    return f"from K={ks[first]} on" if first < len(ks) - 1 else f"at K={ks[-1]}"


def verdict(dist: dict) -> str:
    """Readings 1 and 2: what exact match at the largest K follows, and from which K on it falls."""
    n, ks = dist["n"], sorted(dist["prefix"], key=int)
    k0, k = ks[0], ks[-1]
    base = _ci(dist["prefix"][k0]["exact"], n)
    if too_low(dist):
        return f"Exact match is too low at K={k0} for the probe to tell what it follows."
    below = {part: _order(_ci(dist[part][k]["exact"], n), base) < 0 for part in ("prefix", "shift")}
    wilson = f"(95 % Wilson intervals over the {n} sequences)"
    if below["shift"]:
        prefix = f" (the prefix too, {_since(dist, 'prefix', ks, base)})" if below["prefix"] else ""
        return (f"A shift alone takes exact match below its K={k0} interval {_since(dist, 'shift', ks, base)}"
                f"{prefix} {wilson}: the model depends on absolute positions.")
    if not below["prefix"]:
        return f"Neither the prefix nor the shift takes exact match below its K={k0} interval at K={k} {wilson}."
    where = f"{_since(dist, 'prefix', ks, base)} {wilson}"
    above = [x for x in ks[1:] if _order(_ci(dist["prefix"][x]["exact"], n), _ci(dist["prefix"][x]["rule_exact"], n)) > 0]
    rule = ("the model stays above the rule at every K > 0" if above == ks[1:] else
            f"the model is above the rule at K={', '.join(above)} only" if above else
            "the model is never above the rule once K > 0")
    return (f"A shift changes nothing beyond noise; the prefix takes exact match below its K={k0} interval {where}. "
            f"Part of that is the prefix's content: the rule, blind to positions, falls too; {rule}.")


def same_length(dist: dict, T: int, evaluation: dict[int, dict], pct: Callable[[float], str]) -> str:
    """Reading 3: the prefix (copy offset as in training) against the evaluation's longer copies at about the
    same total length. evaluation[L] = {"exact", "ci", "acc"} of the evaluation set at L."""
    n, out = dist["n"], []
    for L, ev in sorted(evaluation.items()):
        k = next((k for k in dist["prefix"] if abs(T + int(k) - L) <= SAME_LENGTH * L and int(k) > 0), None)
        if k is None:
            continue
        p = dist["prefix"][k]
        side = _order(_ci(p["exact"], n), ev["ci"])
        # an equal length shows which of the two costs more, not that the other costs nothing
        word = {1: "exact match is higher with the prefix: at this length the longer copy offset costs more than "
                   "the longer distances of the prefix",
                -1: "exact match is lower with the prefix: at this length the prefix costs more than the longer "
                    "copy offset",
                0: "exact match within noise"}[side]
        out.append(f"at {T + int(k)} tokens with the copy offset as in training, exact match {pct(p['exact'])} "
                   f"(token accuracy {pct(p['acc'])}) against {pct(ev['exact'])} ({pct(ev['acc'])}) for the "
                   f"evaluation's copies of {L} tokens, {word}")
    return ("Same length, different copy offset: " + "; ".join(out) + ".") if out else ""


def sentence(dist: dict, pct: Callable[[float], str], T: int | None = None,
             evaluation: dict[int, dict] | None = None) -> str:
    """The probe's numbers and its readings, for the report's per-PE section."""
    ks = sorted(dist["prefix"], key=int)
    show = lambda part, m: ", ".join(f"{pct(dist[part][k][m])} at K={k}" for k in ks)  # noqa: E731
    text = (f"Distance probe ({dist['n']} validation copies at the training length, copy offsets as in "
            f"training; {dist['scored']} scored, since after a prefix nothing marks where the source begins): "
            f"exact match after a prefix of K random tokens {show('prefix', 'exact')} (the 3-token content rule "
            f"on the same sequences: {show('prefix', 'rule_exact')}); with every position shifted by K "
            f"{show('shift', 'exact')}. {verdict(dist)}")
    extra = same_length(dist, T, evaluation, pct) if T and evaluation and not too_low(dist) else ""
    return f"{text} {extra}".rstrip()
