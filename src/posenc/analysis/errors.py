"""Where a model's errors are: along the target span, and at targets that content matching finds ambiguous.

Issue 15 asks, for a PE that does not solve a task, to say why. Two signatures tell mechanisms apart,
recorded per sequence so that the aggregate can bootstrap over sequences or compare seeds
(reporting/errors.py reads them):

- **Along the span.** The targets of a sequence, in order, split into `SPAN_PARTS` equal parts (eighths).
  A model that has learned the copy only for some positions is right on some parts and wrong on
  others; a model whose errors do not depend on position is equally wrong on every part.
- **At repeated pairs.** The targets where the 2-token lookup rule (analysis/baselines.py) is wrong:
  the last two tokens also occur earlier, followed by something else. A model that copies by
  matching the last two tokens puts its errors there far beyond their share of the targets; a
  model that copies by position has no reason to.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from posenc.analysis.baselines import RULES, rule_hits
from posenc.data import synthetic
from posenc.data.synthetic import Sources

SPAN_PARTS = 8  # eighths of the target span (fewer when a sequence has fewer targets)
PAIR_RULE = "lookup2"  # its wrong targets are the "repeated pair" ones


def pair_ambiguous(sources: Sources, task: str, vocab_size: int) -> np.ndarray:
    """(N, n_targets) bool: targets, in order, where the 2-token lookup rule predicts wrong.
    Every sequence of `sources` must have the same number of targets (one evaluation length)."""
    return ~np.stack(rule_hits(sources, task, vocab_size, RULES[PAIR_RULE]))


@contextmanager
def recorded_predictions(model):
    """Yields a list that collects the argmax prediction (B, T) of every forward pass of `model` inside the
    block, in call order: the errors are read from the very passes that score the model, not recomputed."""
    preds: list[torch.Tensor] = []
    handle = model.register_forward_hook(lambda _module, _inputs, logits: preds.append(logits.argmax(-1).cpu()))
    try:
        yield preds
    finally:
        handle.remove()


def targets_right(preds: list[torch.Tensor], sources: Sources, task: str, vocab_size: int,
                  batch_size: int) -> np.ndarray:
    """(N, n_targets): each target's correctness, in order, from recorded_predictions() of a scoring loop
    over synthetic.fixed_batches(sources, ..., batch_size), run once per position draw (mean over draws)."""
    labels = [lab for _, lab in synthetic.fixed_batches(sources, task, vocab_size, batch_size)]
    if not labels or not preds or len(preds) % len(labels):
        raise ValueError(f"{len(preds)} recorded passes do not cover {len(labels)} batches a whole number of times")
    draws = [preds[i: i + len(labels)] for i in range(0, len(preds), len(labels))]
    return np.mean([torch.cat([(p == lab)[lab != synthetic.IGNORE].view(lab.shape[0], -1)
                               for p, lab in zip(draw, labels)]).double().numpy() for draw in draws], axis=0)


def span_parts(n_targets: int) -> list[np.ndarray]:
    """Target indices 0..n_targets-1 split in order into min(SPAN_PARTS, n_targets) near-equal parts."""
    return np.array_split(np.arange(n_targets), min(SPAN_PARTS, n_targets))


def error_profile(right_at: np.ndarray, ambiguous: np.ndarray) -> dict:
    """From right_at (N, n_targets), each target's correctness (a mean over position draws for a
    randomized PE), and pair_ambiguous()' mask of the same shape:
    {"span_targets": targets per part, "per_seq": {"right_by_part": (N, parts) right targets per part,
    "wrong_at_pairs": (N,) wrong targets at repeated pairs, "pairs": (N,) repeated-pair targets}}."""
    if right_at.shape != ambiguous.shape:
        raise ValueError(f"right_at {right_at.shape} and the pair mask {ambiguous.shape} differ")
    parts = span_parts(right_at.shape[1])
    by_part = np.stack([right_at[:, p].sum(1) for p in parts], axis=1)  # (N, parts)
    wrong = 1.0 - right_at
    return {"span_targets": [len(p) for p in parts],
            "per_seq": {"right_by_part": np.round(by_part, 4).tolist(),
                        "wrong_at_pairs": np.round((wrong * ambiguous).sum(1), 4).tolist(),
                        "pairs": ambiguous.sum(1).astype(int).tolist()}}
