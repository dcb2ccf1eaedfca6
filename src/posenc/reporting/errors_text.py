"""The report's reading of where a model's errors are (results.json `errors`, reporting/errors.py).

Two readings, each only where 95 % intervals separate:
1. along the span: accuracy lower on the last eighth than on the first, the reverse, or neither;
2. at repeated token pairs (where the 2-token lookup rule is wrong): errors there beyond those targets'
   share of all targets, and whether they are most of the errors (the signature of copying by content)
   or a small part of them.
Positions are those of the task's layout (data/synthetic.py), the same for every sequence of a length.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from posenc.data import synthetic

CONTENT = 0.5  # errors at repeated pairs read as "mostly content matching" from this share of the errors on


def part_positions(task: str, L: int, parts: int, vocab_size: int) -> list[tuple[int, int]]:
    """(first, last) position at which each of `parts` near-equal parts of the target span is predicted."""
    _, labels = synthetic.make_batch([np.zeros(synthetic.n_for_length(task, L), dtype=np.int64)], task, vocab_size)
    pos = np.flatnonzero(labels[0].numpy() != synthetic.IGNORE)
    return [(int(p[0]), int(p[-1])) for p in np.array_split(pos, min(parts, len(pos)))]


def _order(a: list[float], b: list[float]) -> int:
    """+1 if interval a lies above b, -1 if below, 0 if they overlap (or either is undefined)."""
    return 1 if a[0] > b[1] else -1 if a[1] < b[0] else 0


def span_reading(row: dict) -> str:
    """Reading 1: where along the span the errors are."""
    first, last = row["span_ci"][0], row["span_ci"][-1]
    if not np.isfinite([*first, *last]).all():
        return "the intervals are undefined, so where they are cannot be told"
    order = _order(last, first)
    if order < 0:
        return "accuracy is lower on the last eighth than on the first (the intervals separate)"
    if order > 0:
        return "accuracy is lower on the first eighth than on the last (the intervals separate)"
    return "no end of the span is worse than the other (the first and last eighths' intervals overlap)"


def pair_reading(row: dict) -> str:
    """Reading 2: are the errors at repeated token pairs beyond those targets' share?"""
    lo, hi = row["errors_at_pairs_ci"]
    if not np.isfinite([lo, hi]).all():
        return "too few wrong targets in some seed or resample to tell"
    if lo > row["pair_share"]:
        times = f"x{row['errors_at_pairs'] / row['pair_share']:.1f}" if row["pair_share"] > 0 else "all"
        if row["errors_at_pairs"] >= CONTENT:
            return (f"more than their share ({times}), and most of the errors: they sit where matching the last "
                    "two tokens is ambiguous, the signature of copying by content")
        return (f"more than their share ({times}), yet most errors lie elsewhere: matching the last two tokens "
                "explains only a small part of them")
    if hi < row["pair_share"]:
        return "fewer than their share"
    if hi >= CONTENT:  # a handful of wrong targets: the interval also holds "most of them at pairs"
        return (f"within noise of their share, but the interval reaches {100 * hi:.0f} % of the errors: too few "
                "wrong targets to tell whether matching the last two tokens explains them")
    return (f"no more than their share beyond noise (at most {100 * hi:.0f} % of the errors by the interval), so "
            "matching the last two tokens does not explain most of them")


def sentence(row: dict, task: str, L: int, pct: Callable[[float], str], vocab_size: int) -> str:
    """The report's line for one model row (results.json errors[task][row][L]) at one length."""
    head = f"Where the errors are ({task} at {L}, {row['wrong_per_seq']:.2f} wrong targets per sequence)"
    if row["wrong_per_seq"] == 0:
        return f"{head}: there are none."
    ci = [f"[{pct(a)}, {pct(b)}]" for a, b in (row["span_ci"][0], row["span_ci"][-1])]
    where = part_positions(task, L, len(row["span"]), vocab_size)
    share = row["errors_at_pairs"]
    pairs = (f"{pct(share)} [{pct(row['errors_at_pairs_ci'][0])}, {pct(row['errors_at_pairs_ci'][1])}] of the "
             f"wrong targets sit at a repeated token pair (the last two tokens occurred earlier, followed by another "
             f"token), which are {pct(row['pair_share'])} of all targets: {pair_reading(row)}")
    return (f"{head}: accuracy on each eighth of the target span " + ", ".join(pct(x) for x in row["span"])
            + f" (the first, predicted at positions {where[0][0]}-{where[0][1]}: {ci[0]}; the last, at "
            f"{where[-1][0]}-{where[-1][1]}: {ci[1]}): {span_reading(row)}. {pairs}.")
