"""The fixed rules that turn numbers into the report's verbs: keeps, degrades, collapses.

A copy task is scored two ways, and they can disagree: token accuracy can hold at 99 % while
exact match falls to a few percent, because a positionless rule that matches the last three
tokens against the source is right on nearly every target and wrong somewhere in most long
sequences (docs/recipe.md). So each verdict about a synthetic length is stated for both, and
the exact-match one next to the content rule's score at the same length.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from posenc.reporting import stats
from posenc.reporting.sweep import beyond_sample_noise

KEEP = 0.9  # a score "holds" if it retains at least this share of its training-length value ...
COLLAPSE = 0.5  # ... "degrades" down to this share, and "collapses" below it
LOST_HEAD = 0.5  # the copy head "loses" the source token if its weight there falls below this share of before
READS = 0.25  # a head "reads" the source token if it puts at least this weight on that one key


def finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def verdict(short: float, long: float, long_loss: float = 0.0) -> tuple[str, float]:
    """('keeps' | 'degrades' | 'collapses' | 'breaks down (NaN)' | 'not learned', retained share) for accuracy
    `short` at the training length and `long` at a longer one; under COLLAPSE at the training length the
    task was not learned, and a fall from there is no collapse."""
    if not finite(long_loss):
        return "breaks down (NaN loss, scored 0)", 0.0
    if finite(short) and 0 < short < COLLAPSE:
        return "not learned", long / short
    if not finite(short) or not finite(long) or short <= 0:
        return "collapses", 0.0
    kept = long / short
    word = "keeps its accuracy" if kept >= KEEP else "degrades" if kept >= COLLAPSE else "collapses"
    return word, kept


def exact_verdict(short: float, long: float) -> tuple[str, float]:
    """('holds' | 'degrades' | 'collapses' | 'is 0 already', retained share) for exact match `short` at the
    training length and `long` at a longer one. Unlike token accuracy, a low exact match at the training
    length is no sign that nothing was learned, so only zero there has a verb of its own."""
    if not finite(short) or short <= 0:
        return "is 0 already", 0.0
    kept = long / short if finite(long) else 0.0
    return ("holds" if kept >= KEEP else "degrades" if kept >= COLLAPSE else "collapses"), kept


def reference_length(lengths, train_len: int) -> int:
    """The evaluated length that stands for "the training length": the longest one not beyond it."""
    within = [L for L in lengths if L <= train_len]
    return max(within) if within else min(lengths)


def length_clause(acc: tuple[float, float], exact: tuple[float, float], long_loss: float, ref: int, longest: int,
                  rule_exact: float | None, pct: Callable[[float], str]) -> str:
    """What happens from the training length `ref` to the longest one, for token accuracy and exact match
    (each a (at ref, at the longest) pair), with the 3-token content rule's exact match there if known."""
    word, kept = verdict(acc[0], acc[1], long_loss)
    if word == "not learned":
        return (f"the task was not learned at {ref} (token accuracy under {COLLAPSE:.0%}), so the longer lengths "
                "test no extrapolation.")
    if word.startswith("breaks"):
        return f"its token accuracy {word}."
    e_word, e_kept = exact_verdict(*exact)
    rule = (f"; matching the last 3 tokens without positions scores {pct(rule_exact)} exact match at {longest}"
            if finite(rule_exact) else "")
    exact_part = (f"its exact match is 0 at {ref} already" if e_word == "is 0 already" else
                  f"its exact match {e_word} ({e_kept:.0%} of its {ref}-token value)")
    return (f"its token accuracy {word.replace('keeps its accuracy', 'holds')} ({kept:.0%} of its {ref}-token "
            f"value), {exact_part}{rule}.")


def table_cell(acc: tuple[float, float], exact: tuple[float, float], long_loss: float, ref: int,
               pct: Callable[[float], str]) -> str:
    """The pros-and-cons table's short form: 'token / exact: what happened', exact match deciding the verb."""
    word, _ = verdict(acc[0], acc[1], long_loss)
    numbers = f"{pct(acc[1])} / {pct(exact[1])}"
    if word == "not learned" or word.startswith("breaks"):
        return f"{numbers}: {'not learned at ' + str(ref) if word == 'not learned' else word}"
    e_word, _ = exact_verdict(*exact)
    return f"{numbers}: exact match {'0 at ' + str(ref) if e_word == 'is 0 already' else e_word}"


def copy_heads(mass_T: list, mass_L: list, T: int, L: int, num: Callable) -> str:
    """Which heads read the source token to copy at T (at least half the best head's weight on it, and at
    least READS on that one key), and whether each keeps it at L."""
    flat = [(x, li, h) for li, row in enumerate(mass_T) for h, x in enumerate(row) if finite(x)]
    if not flat:
        return ""
    best, b_li, b_h = max(flat)
    if best < READS:
        return (f"No head reads the source token to copy at {T}: the largest weight on it is {num(best, '.2f')} "
                f"(layer {b_li} head {b_h}), under {READS}.")
    heads = sorted((li, h, m_T, mass_L[li][h]) for m_T, li, h in flat if m_T >= LOST_HEAD * best)
    found = [f"layer {li} head {h}" for li, h, m_T, m_L in heads if finite(m_L) and m_L >= LOST_HEAD * m_T]
    return (f"Heads that read the source token to copy (weight on it at {T} -> at {L}): "
            + "; ".join(f"layer {li} head {h} {num(a, '.2f')} -> {num(b, '.2f')}" for li, h, a, b in heads)
            + f". {len(found)} of {len(heads)} keep at least {LOST_HEAD:.0%} of their weight on it at {L}"
            + (f" ({', '.join(found)})." if found else "."))


def shorter_dip(at_T: list[float], shorter: dict, n_eval: int, under: float = 1.0) -> tuple[int, float] | None:
    """(L, mean exact match at L) for the shorter length (one the model trained on) with the lowest mean exact
    match that is under `under` and lower than at the training length beyond noise (the 95 % t interval of the
    paired difference over seeds excludes 0; with one seed, the two rates over the n_eval sequences differ
    beyond the sample's noise); None when there is none. `shorter`: {L: exact match per seed}."""
    T = np.asarray(at_T)
    for L, v in sorted(shorter.items(), key=lambda kv: np.mean(kv[1])):
        gap = T - np.asarray(v)
        real = (stats.t_interval(gap)[0] > 0 if len(gap) >= 2
                else beyond_sample_noise(float(T[0]), float(v[0]), n_eval))
        if np.mean(v) < min(under, float(np.mean(T))) and real:  # lower, not merely different
            return int(L), float(np.mean(v))
    return None


def course(track: dict, k: str, n_seqs: int) -> tuple[str, int, float, float]:
    """How one tracked score (results.json tracking[task][pe], key k such as exact_1024) evolves along
    training: ('zero' | 'end' | 'falls' | 'near', peak step, peak, end). 'end': highest at the last tracked
    step; 'falls': lower at the end than at its peak beyond noise (the 95 % t interval of the per-seed drops
    excludes 0; with one seed, two proportions over the n_seqs tracked sequences differ beyond the sample's
    noise); 'near': below its peak, within noise."""
    v, per = track[k], np.asarray(track["per_seed"][k])  # (steps,), (seeds, steps)
    i = int(np.argmax(v))
    peak, end = float(v[i]), float(v[-1])
    if peak <= 0:
        return "zero", track["step"][i], peak, end
    if end >= peak:
        return "end", track["step"][-1], peak, end
    drop = per[:, i] - per[:, -1]
    real = stats.t_interval(drop)[0] > 0 if len(drop) >= 2 else beyond_sample_noise(peak, end, n_seqs)
    return ("falls" if real else "near"), track["step"][i], peak, end


def course_sentence(task: str, tracks: dict, lengths: list[int], every: int, n_seqs: int,
                    pct: Callable[[float], str]) -> str:
    """Exact match at each longer length along training, per trained PE (`tracks`: {pe: tracking row})."""
    parts = []
    for L in lengths:
        by: dict[str, list[str]] = {"end": [], "falls": [], "near": [], "zero": []}
        for pe, tr in tracks.items():
            kind, step, peak, end = course(tr, f"exact_{L}", n_seqs)
            by[kind].append({"end": f"{pe} {pct(end)}", "zero": pe,
                             "falls": f"{pe} {pct(peak)} at step {step} -> {pct(end)}",
                             "near": f"{pe} {pct(peak)} at step {step} -> {pct(end)}"}[kind])
        words = {"end": "highest at the last step", "falls": "falls from its peak beyond noise",
                 "near": "below its peak at the end, within noise", "zero": "0 at every step"}
        parts.append(f"at {L}, " + "; ".join(f"{words[k]}: {', '.join(v)}" for k, v in by.items() if v))
    falls = any("falls from its peak" in p for p in parts)
    return (f"- {task}, exact match along training (every {every} steps, the first {n_seqs} sequences of each "
            f"length): " + "; ".join(parts) + (
                "." if falls else ". No PE's exact match at these lengths ends lower than its peak beyond noise."))
