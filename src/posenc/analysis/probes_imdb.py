"""Probes of the IMDb classifiers: gradients and attention entropy on a fixed batch of long test reviews."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from posenc.analysis.probes import attention_entropy, gradient_probe
from posenc.data import imdb
from posenc.data.imdb import Encoded


def probe_batch_indices(lengths: np.ndarray, labels: np.ndarray, longer_than: int, batch_size: int) -> np.ndarray:
    """A fixed, label-balanced batch of reviews longer than `longer_than` tokens (the longest ones if too few)."""
    order = np.lexsort((np.arange(len(lengths)), -lengths))  # longest first, ties by index
    long_enough = order[lengths[order] > longer_than]
    pool = long_enough if len(long_enough) >= batch_size else order
    picked = []
    for c in (0, 1):
        picked += pool[labels[pool] == c][: (batch_size + 1 - c) // 2].tolist()
    if len(picked) < batch_size:  # one class is short of reviews: fill with the other
        picked += [i for i in pool if i not in picked][: batch_size - len(picked)]
    return np.array(sorted(picked), dtype=np.int64)


def probe_classifier(model, test: Encoded, lengths: list[int], truncation: str, batch_size: int) -> dict:
    """Gradients and attention entropy of one classifier on a fixed batch of long test reviews
    truncated at each length: {"reviews", "gradients" {L}, "attention" {L}}."""
    model.cpu()
    idx = probe_batch_indices(test.lengths, test.labels, max(lengths), batch_size)
    metrics: dict = {"reviews": idx.tolist(), "gradients": {}, "attention": {}}
    for L in lengths:
        ids, mask, labels = imdb.make_batch(test, idx, L, truncation)
        metrics["gradients"][str(L)] = gradient_probe(model, lambda m: F.cross_entropy(m(ids, mask).float(), labels))
        with torch.no_grad():
            model.eval()
            _, weights = model(ids, mask, need_weights=True)
        n_real = mask.sum(1, keepdim=True).expand_as(mask)
        metrics["attention"][str(L)] = attention_entropy([w.float() for w in weights], mask.bool(), n_real)
    return metrics
