"""The report's comparison of a task's two formats: teacher-forced (`copy`) and the brief's (`copy_blank`).

In the brief's format the outputs are read at placeholder positions, so a model never sees the
previous target token and can find a_k only by its position; teacher-forced, it can also copy by
matching content (an induction head). Where the study trains both, the report sets each PE's two
exact matches side by side with their 95 % intervals, and ranks the formats per PE only where the
paired, Holm-corrected comparison of claims.py separates them (claims.format_sentence). And how the
training draws a task's lengths (length_draw).
"""

from __future__ import annotations

from collections.abc import Callable

from posenc.reporting.claims import format_sentence
from posenc.reporting.results import key


def format_lines(results: dict, comps: list[dict], base: str, blank: str, lengths: list[int],
                 cell: Callable[[dict, str], str]) -> list[str]:
    """Markdown lines: each PE's exact match in both formats at lengths[0] (the training length), written by
    `cell(row, key)` (the report's number with its interval), then the tested ordering sentences at every
    length of `lengths`."""
    T, tasks = lengths[0], results["tasks"]
    side = "; ".join(f"{pe} {cell(tasks[base][pe], key('exact', T))} vs "
                     f"{cell(tasks[blank][pe], key('exact', T))}"
                     for pe in tasks[base] if pe in tasks[blank])
    lines = [f"- **{base} and {blank}, the two formats** ({blank}: outputs read at placeholders, so only "
             f"positions can find them), exact match at {T}, {base} vs {blank}: {side}."]
    return lines + [f"- {format_sentence(results, comps, base, blank, m, L)}" for L in lengths for m in ("exact", "acc")]


def length_draw(long_share: float) -> str:
    """How the training steps after the curriculum draw their length (train.long_share), in words."""
    if not long_share:
        return "n uniform"
    return (f"{long_share:.0%} of the steps at the longest length and the rest n uniform (the uniform draw alone "
            "starves an absolute PE's last positions: README, 'Is it the length distribution?')")
