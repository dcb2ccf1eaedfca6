"""Probes of the synthetic causal LMs: gradients, attention entropy, source mass and attention maps."""

from __future__ import annotations

import numpy as np
import torch

from posenc.analysis.baselines import lookup_predictions
from posenc.analysis.probes import attention_entropy, gradient_probe, source_mass
from posenc.data import synthetic
from posenc.data.synthetic import IGNORE, Sources
from posenc.engine.lm import lm_loss


def _eval_batch(splits: dict[str, Sources], task: str, vocab_size: int, L: int, batch_size: int):
    sources = splits[f"eval_{L}"]
    chosen = [sources.get(i) for i in range(min(batch_size, len(sources)))]
    return synthetic.make_batch(chosen, task, vocab_size), int(sources.lengths[0])


@torch.no_grad()
def _scores(model, idx, labels, offset: int = 0) -> dict[str, float]:
    logits = model(idx, offset=offset)
    is_target = labels != IGNORE
    right = (logits.argmax(-1) == labels) & is_target
    return {"acc": float(right.sum() / is_target.sum()), "exact": float((right | ~is_target).all(1).float().mean())}


def without_first_target(labels: torch.Tensor) -> torch.Tensor:
    """(B, T) labels with each sequence's first target set to IGNORE. After a prefix nothing marks where the
    source begins, so the prediction made at SEP (its first token) is ill-posed for any model; scoring it
    would put exact match at zero by construction, for a perfect copier too."""
    out = labels.clone()
    first = (labels != IGNORE).to(torch.int8).argmax(1)  # (B,) the first target's column
    out[torch.arange(len(out)), first] = IGNORE
    return out


def rule_exact(idx: torch.Tensor, labels: torch.Tensor, k: int = 3) -> float:
    """Exact match of the k-token content rule (analysis/baselines.py) on these very sequences and targets:
    what matching content alone scores once a prefix has added distractors."""
    exact = 0
    for seq, lab in zip(idx.numpy(), labels.numpy()):
        at = np.flatnonzero(lab != IGNORE)
        exact += int((lookup_predictions(seq, at, k) == lab[at]).all())
    return exact / len(idx)


def distance_probe(model, sources: Sources, task: str, vocab_size: int, max_positions: int, seed: int) -> dict:
    """Which of two things a collapse past the training length follows (issue 15, the RoPE question):
    sequences of the training length (every copy offset seen in training) either

    - after a prefix of K random content tokens: the copy offset is unchanged, but positions and the
      largest query-key distance grow by K ("prefix"), or
    - with every position shifted by K: no distance changes, only absolute positions ("shift").

    A relative PE is exactly invariant to the shift; a collapse under the prefix then follows the
    distances, not the copy offset. Every target but each sequence's first is scored, in both parts
    (see without_first_target). The prefix's random tokens are also distractors for content matching:
    "rule_exact" is the 3-token rule's exact match on the same prefixed sequences.
    {"n": sequences, "scored": ..., "prefix": {K: {acc, exact, rule_exact}}, "shift": {K: {acc, exact}}}
    for K = 0, T/4, T/2, T, 2T, ... while K + T fits in max_positions.
    """
    model.cpu().eval()
    idx, labels = synthetic.make_batch([sources.get(i) for i in range(len(sources))], task, vocab_size)
    labels = without_first_target(labels)
    T = idx.shape[1]
    ks = [k for k in (0, T // 4, T // 2, T, 2 * T, 3 * T) if k + T <= max_positions]
    rng = np.random.default_rng(seed)
    out: dict = {"n": len(idx), "scored": "every target but the first", "prefix": {}, "shift": {}}
    for k in ks:
        prefix = torch.from_numpy(rng.integers(0, vocab_size, (idx.shape[0], k)))
        pad = torch.full((idx.shape[0], k), IGNORE)
        longer, long_labels = torch.cat([prefix, idx], 1), torch.cat([pad, labels], 1)
        out["prefix"][str(k)] = {**_scores(model, longer, long_labels), "rule_exact": rule_exact(longer, long_labels)}
        out["shift"][str(k)] = _scores(model, idx, labels, offset=k)
    return out


@torch.no_grad()
def _weights(model, idx):
    model.eval()
    _, weights = model(idx, need_weights=True)
    return [w.float() for w in weights]


def probe_lm(model, splits: dict[str, Sources], task: str, vocab_size: int, grad_lengths: list[int],
             attention_lengths: list[int], map_lengths: list[int], batch_size: int,
             seed: int = 0) -> tuple[dict, dict]:
    """All probes of one causal LM on the first `batch_size` evaluation sequences at each length.

    Returns (metrics, maps): metrics["gradients"][L] from gradient_probe,
    metrics["attention"][L] = {"entropy", "entropy_norm", "source_mass" (copy
    only, else None)}; maps[f"attn_{L}"] = (layers, heads, T, T) float16
    weights of evaluation sequence 0 and maps[f"n_{L}"] its source length; metrics["distance"]: the
    distance probe on the validation sequences (at the training length).
    """
    model.cpu()
    metrics: dict = {"gradients": {}, "attention": {},
                     "distance": distance_probe(model, splits["val"], task, vocab_size, model.spec.max_positions, seed)}
    for L in grad_lengths:
        (idx, labels), _ = _eval_batch(splits, task, vocab_size, L, batch_size)
        metrics["gradients"][str(L)] = gradient_probe(model, lambda m: lm_loss(m(idx), labels))
    maps = {}
    for L in sorted(set(attention_lengths) | set(map_lengths)):
        (idx, labels), n = _eval_batch(splits, task, vocab_size, L, batch_size)
        weights = _weights(model, idx)
        T = idx.shape[1]
        if L in attention_lengths:
            n_keys = torch.arange(1, T + 1).expand(idx.shape[0], T)
            stats = attention_entropy(weights, labels != IGNORE, n_keys)
            stats["source_mass"] = source_mass(weights, n) if task == "copy" else None
            metrics["attention"][str(L)] = stats
        if L in map_lengths:
            maps[f"attn_{L}"] = torch.stack([w[0] for w in weights]).numpy().astype(np.float16)
            maps[f"n_{L}"] = np.array(n)
    return metrics, maps
