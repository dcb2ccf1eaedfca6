"""The fixed rules that turn numbers into the report's verbs (REPORT.md and the study parts' SUMMARY.md).

- From the training length to the longest: holds, degrades, collapses (`verdict`, `exact_verdict`).
  A copy task is scored two ways, and they can disagree: token accuracy can hold at 99 % while
  exact match falls to a few percent, because a positionless rule that matches the last three
  tokens against the source is right on nearly every target and wrong somewhere in most long
  sequences (docs/recipe.md). So each is stated for both, the exact-match one beside the content
  rule's score at the same length (`length_clause`, `table_cell`).
- Which attention heads read the source token to copy (`copy_heads`).
- A shorter length the model trained on where it does worse than at the training length (`shorter_dip`).
- Exact match past the training length along training: highest at the end, or below its peak, and
  whether that drop is beyond noise (`course`, `course_sentence`).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from scipy.stats import norm

from posenc.reporting import stats
from posenc.reporting.stats import sample_p

KEEP = 0.9  # a score "holds" if it retains at least this share of its training-length value ...
COLLAPSE = 0.5  # ... "degrades" down to this share, and "collapses" below it
LOST_HEAD = 0.5  # the copy head "loses" the source token if its weight there falls below this share of before
READS = 0.25  # a head "reads" the source token if it puts at least this weight on that one key
ALPHA = 1 - stats.CONFIDENCE  # a shorter length's dip counts below this p, after Bonferroni


def finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def pct(x) -> str:
    return f"{100 * x:.1f} %" if finite(x) else "NaN"


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
                  rule_exact: float | None) -> str:
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


def table_cell(acc: tuple[float, float], exact: tuple[float, float], long_loss: float, ref: int) -> str:
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
    match that is under `under` and lower than at the training length beyond noise: the paired t-test over
    seeds (with one seed, the two-proportion z over the n_eval sequences), Bonferroni over the shorter lengths
    looked at, since the lowest is picked after the fact; None when there is none. `shorter`: {L: exact match
    per seed}."""
    T = np.asarray(at_T)
    for L, v in sorted(shorter.items(), key=lambda kv: np.mean(kv[1])):
        p = (stats.paired_test(T, v)["p"] if len(T) >= 2 else sample_p(float(T[0]), float(v[0]), n_eval))
        if np.mean(v) < min(under, float(np.mean(T))) and p * len(shorter) < ALPHA:  # lower, not merely different
            return int(L), float(np.mean(v))
    return None


def course(track: dict, k: str, n_seqs: int) -> tuple[str, int, float, float, float]:
    """How one tracked score (results.json tracking[task][pe], key k such as exact_1024) evolves along
    training: ('zero' | 'end' | 'below', peak step, peak, end, p). 'end': highest at the last tracked step;
    'below': lower at the end than at its peak, with p the chance of a drop that large from noise alone: the
    larger of the paired t-test over seeds and the two-proportion z over the tracked sequences (n_seqs per
    seed), times the steps the peak was picked from (it is chosen after the fact, Bonferroni)."""
    v, per = track[k], np.asarray(track["per_seed"][k])  # (steps,), (seeds, steps)
    i = int(np.argmax(v))
    peak, end = float(v[i]), float(v[-1])
    if peak <= 0:
        return "zero", track["step"][i], peak, end, 1.0
    if end >= peak:
        return "end", track["step"][-1], peak, end, 1.0
    n = n_seqs * per.shape[0]
    se = ((peak * (1 - peak) + end * (1 - end)) / n) ** 0.5
    p_sample = float(2 * norm.sf((peak - end) / se)) if se > 0 else 0.0
    p_seeds = stats.paired_test(per[:, i], per[:, -1])["p"] if per.shape[0] >= 2 else 0.0
    return "below", track["step"][i], peak, end, min(1.0, max(p_sample, p_seeds) * (len(v) - 1))


def course_sentence(task: str, tracks: dict, lengths: list[int], every: int, n_seqs: int) -> str:
    """Exact match at each longer length along training, per trained PE (`tracks`: {pe: tracking row}); a
    drop from the peak 'falls beyond noise' when its course() p, Holm-corrected over the sentence, is < 0.05."""
    found = {(L, pe): course(tr, f"exact_{L}", n_seqs) for L in lengths for pe, tr in tracks.items()}
    below = [c for c, r in found.items() if r[0] == "below"]
    adjusted = dict(zip(below, stats.holm([found[c][4] for c in below])))
    parts = []
    for L in lengths:
        by: dict[str, list[str]] = {"end": [], "falls": [], "near": [], "zero": []}
        for pe in tracks:
            kind, step, peak, end, _ = found[(L, pe)]
            if kind == "below":
                kind = "falls" if adjusted[(L, pe)] < 0.05 else "near"
            by[kind].append({"end": f"{pe} {pct(end)}", "zero": pe}.get(
                kind, f"{pe} {pct(peak)} at step {step} -> {pct(end)}"))
        words = {"end": "highest at the last step", "falls": "falls from its peak beyond noise",
                 "near": "below its peak at the end, within noise", "zero": "0 at every step"}
        parts.append(f"at {L}, " + "; ".join(f"{words[k]}: {', '.join(v)}" for k, v in by.items() if v))
    falls = any("falls from its peak" in p for p in parts)
    return (f"- {task}, exact match along training (every {every} steps, the first {n_seqs} sequences of each "
            f"length; a drop from the peak is tested against seed and sample noise, the peak's choice among the "
            f"steps and every drop in this sentence): " + "; ".join(parts) + (
                "." if falls else ". No PE's exact match at these lengths ends lower than its peak beyond noise."))


def course_lines(task: str, tracks: dict, cfg) -> list[str]:
    """course_sentence for a task of a run or part with config `cfg`, at its evaluation lengths past training
    that were tracked; [] when it tracked none."""
    T, first = cfg.synthetic.train_max_len, next(iter(tracks.values()), {})
    lengths = [L for L in cfg.synthetic.eval_lengths if L > T and f"exact_{L}" in first]
    return [course_sentence(task, tracks, lengths, cfg.train.track_every, cfg.train.track_size)] if lengths else []
