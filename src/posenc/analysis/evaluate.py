"""Evaluation of a trained causal LM at every length.

Per length L: teacher-forced token accuracy on target positions (the headline
number), sequence exact match (every target token right), and mean target loss.
A non-finite loss is reported as NaN, never raised.
"""

from __future__ import annotations

import math

import torch

from posenc.config import Config
from posenc.data import synthetic
from posenc.data.synthetic import Sources
from posenc.engine.lm import lm_loss, target_counts
from posenc.engine.runtime import Runtime, resolve


@torch.no_grad()
def evaluate_lm(model, splits: dict[str, Sources], task: str, cfg: Config, lengths: list[int],
                rt: Runtime | None = None) -> dict[str, dict]:
    """{str(L): {"token_acc", "exact_match", "loss", "n_seqs", "seq_len"}} for each L, in the training precision."""
    rt = rt or resolve(cfg.runtime.dtype)
    device = rt.device
    model.to(device).eval()
    out = {}
    for L in lengths:
        sources = splits.get(f"eval_{L}")
        if sources is None:
            raise KeyError(f"eval_{L}")
        right = total = exact = seqs = 0
        loss_sum = 0.0
        for idx, labels in synthetic.fixed_batches(sources, task, cfg.synthetic.vocab_size, cfg.evaluate.batch_size):
            idx, labels = idx.to(device), labels.to(device)
            with rt.autocast():
                logits = model(idx)
            n_targets = int((labels != synthetic.IGNORE).sum())
            loss_sum += lm_loss(logits, labels).item() * n_targets
            r, n, e, s = target_counts(logits, labels)
            right, total, exact, seqs = right + r, total + n, exact + e, seqs + s
        loss = loss_sum / total
        out[str(L)] = {
            "token_acc": right / total,
            "exact_match": exact / seqs,
            "loss": loss if math.isfinite(loss) else float("nan"),
            "n_seqs": seqs,
            "seq_len": synthetic.total_length(task, int(sources.lengths[0])),
        }
    return out
