"""Scores shared by training, evaluation and aggregation (numpy only)."""

from __future__ import annotations

import numpy as np


def macro_f1(pred: np.ndarray, label: np.ndarray, n_classes: int = 2) -> float:
    """Mean over classes 0..n_classes-1 of F1 = 2 TP / (2 TP + FP + FN) (0 for a class never seen)."""
    f1s = []
    for c in range(n_classes):
        tp, fp = int(((pred == c) & (label == c)).sum()), int(((pred == c) & (label != c)).sum())
        fn = int(((pred != c) & (label == c)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(f1s))
