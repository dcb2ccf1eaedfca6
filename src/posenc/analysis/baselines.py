"""Content-matching baselines: how far copying by content alone gets, with no position information.

Issue 15: teacher-forced copy can be solved by an induction head that matches the
last few tokens against the earlier text and predicts what followed them. The
k-token lookup rule does exactly that, with no model:

    at target position t, take the longest suffix x[t-j+1..t] (j = k, k-1, ..., 1) of the
    context that occurs earlier in the sequence; predict the token that followed its
    earliest occurrence. A context with no earlier match (the SEP) predicts x[0]; with a start
    token (copy_start) the SEP matches it and predicts a1, as the sequence's first position does.

Scored on the same evaluation sets and with the same metrics as the models (token
accuracy on target positions, exact match per sequence). A model that beats the
3-token rule's exact match does more than content matching can; one that does not
may be matching content. The rule cannot know where the second copy of duplicate
starts (the last source token is followed by SEP), so it fails every duplicate sequence;
in the brief's blank format there is no content after SEP to match, so it scores near chance.
"""

from __future__ import annotations

import numpy as np

from posenc.data import synthetic
from posenc.data.synthetic import Sources

RULES = {"lookup2": 2, "lookup3": 3}  # results.json name -> k


def lookup_predictions(seq: np.ndarray, positions: np.ndarray, k: int) -> np.ndarray:
    """The k-token lookup rule's prediction of the target at each of `positions` (ascending), from
    the context seq[..t] (teacher-forced: the target at t is seq[t+1]; blank: the token due at t)."""
    tokens = seq.astype(np.uint8).tobytes() if seq.max() < 256 else tuple(int(x) for x in seq)
    wanted = set(positions.tolist())
    earliest: dict = {}  # suffix -> end position of its first occurrence
    preds = []
    for t in range(int(positions[-1]) + 1):
        if t in wanted:
            end = next((earliest[tokens[t - j + 1: t + 1]] for j in range(k, 0, -1)
                        if t - j + 1 >= 0 and tokens[t - j + 1: t + 1] in earliest), -1)
            preds.append(seq[end + 1] if end >= 0 else seq[0])
        for j in range(1, k + 1):
            if t - j + 1 >= 0:
                earliest.setdefault(tokens[t - j + 1: t + 1], t)
    return np.asarray(preds, dtype=np.int64)


def rule_hits(sources: Sources, task: str, vocab_size: int, k: int) -> list[np.ndarray]:
    """Per sequence of `sources`, in order: a bool per target, whether the k-token rule predicts it."""
    hits = []
    for i in range(len(sources)):
        idx, labels = synthetic.make_batch([sources.get(i)], task, vocab_size)
        seq, lab = idx[0].numpy(), labels[0].numpy()
        positions = np.flatnonzero(lab != synthetic.IGNORE)
        hits.append(lookup_predictions(seq, positions, k) == lab[positions])
    return hits


def score_rule(sources: Sources, task: str, vocab_size: int, k: int) -> dict[str, float]:
    """Token accuracy and exact match of the k-token rule on every sequence of `sources`."""
    hits = rule_hits(sources, task, vocab_size, k)
    right, total = sum(int(h.sum()) for h in hits), sum(len(h) for h in hits)
    return {"token_acc": right / total, "exact_match": sum(bool(h.all()) for h in hits) / len(sources)}


def content_baselines(splits: dict[str, Sources], task: str, vocab_size: int, lengths: list[int]) -> dict:
    """{rule: {str(L): {"token_acc", "exact_match"}}} for every rule of RULES and every length."""
    return {rule: {str(L): score_rule(splits[f"eval_{L}"], task, vocab_size, k) for L in lengths}
            for rule, k in RULES.items()}
