"""The report's comparison of a task's formats: teacher-forced (`copy`) beside the brief's (`copy_blank`)
or beside itself with a start token (`copy_start`).

In the brief's format the outputs are read at placeholder positions, so a model never sees the
previous target token and can find a_k only by its position; teacher-forced, it can also copy by
matching content (an induction head). With a start token (SEP in front) the first source token has a
token before it, like every other, which a content lookup needs (README, "A start token closes the gap").
Where the study trains both, the report sets each PE's two exact matches side by side with their 95 %
intervals, and ranks the formats per PE only where the paired, Holm-corrected comparison of claims.py
separates them (claims.format_sentence). And how the training draws a task's lengths (length_draw).
"""

from __future__ import annotations

from collections.abc import Callable

from posenc.reporting.claims import format_sentence

WHAT = {"_blank": "outputs read at placeholders, so only positions can find them",
        "_start": "a start token in front, so the first source token has a token before it"}
from posenc.reporting.results import key


def format_lines(results: dict, comps: list[dict], base: str, blank: str, lengths: list[int],
                 cell: Callable[[dict, str], str]) -> list[str]:
    """Markdown lines: each PE's exact match in both formats (`blank`: any other format of `base`) at
    lengths[0] (the training length), written by `cell(row, key)` (the report's number with its interval),
    then the tested ordering sentences at every length of `lengths`."""
    T, tasks = lengths[0], results["tasks"]
    side = "; ".join(f"{pe} {cell(tasks[base][pe], key('exact', T))} vs "
                     f"{cell(tasks[blank][pe], key('exact', T))}"
                     for pe in tasks[base] if pe in tasks[blank])
    what = next(w for suffix, w in WHAT.items() if blank.endswith(suffix))
    lines = [f"- **{base} and {blank}, the two formats** ({blank}: {what}), exact match at {T}, "
             f"{base} vs {blank}: {side}."]
    return lines + [f"- {format_sentence(results, comps, base, blank, m, L)}" for L in lengths for m in ("exact", "acc")]


def length_draw(long_share: float) -> str:
    """How the training steps after the curriculum draw their length (train.long_share), in words."""
    if not long_share:
        return "n uniform"
    return (f"{long_share:.0%} of the steps at the longest length and the rest n uniform (the uniform draw alone "
            "starves an absolute PE's last positions: README, 'Is it the length distribution?')")
