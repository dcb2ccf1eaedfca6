"""Looking inside trained models: why an encoding survives or collapses (DESIGN section 8).

Three probes, all on fixed inputs so that every PE sees exactly the same data:

* Gradients. Forward and backward on one fixed batch at each probe length,
  then the L2 norm of the gradient of every component (embeddings, each
  layer's attention, FFN and norms, the head). Per layer, the *mean gradient
  norm* is the mean over the layer's parameter tensors W of ||dLoss/dW||_2.
  A non-finite loss or gradient is counted, never raised.
* Attention entropy. For each layer, the entropy H = -sum_j p_j log p_j of
  the attention of every scored query (target positions for the causal LM,
  real tokens for the classifier), averaged over heads and queries, and the
  same divided by log(number of visible keys): 1 means uniform attention,
  0 a single key.
* Source mass (copy only). The target at position t (t >= n, predicting
  a_{t-n+1}) must read the source token at position t - n; the mean weight
  each head puts on that key says whether the model still finds it.

The attention maps of one fixed copy example are returned for the figures.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from posenc.data import imdb, synthetic
from posenc.data.imdb import Encoded
from posenc.data.synthetic import IGNORE, Sources
from posenc.train import lm_loss


def component_params(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Parameters grouped as embedding, layer<i>.{attn,ffn,norm}, head (CausalLM and Classifier alike)."""
    groups = {"embedding": [*model.tok_emb.parameters(), *model.pe.parameters()]}
    for i, block in enumerate(model.blocks):
        groups[f"layer{i}.attn"] = list(block.attn.parameters())
        groups[f"layer{i}.ffn"] = list(block.ffn.parameters())
        groups[f"layer{i}.norm"] = [*block.norm1.parameters(), *block.norm2.parameters()]
    groups["head"] = [*model.norm.parameters(), *model.head.parameters()]
    return groups


def _norm(params: list[nn.Parameter]) -> float:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    return float(torch.sqrt(sum(g.double().pow(2).sum() for g in grads)))


def gradient_probe(model: nn.Module, loss_fn) -> dict:
    """Backward pass of loss_fn(model) -> {"loss", "grad_norm" {component}, "layer_grad_norm",
    "layer_mean_grad_norm" {layer<i>}, "nonfinite" (non-finite loss/gradient values)}.

    Runs in eval mode (no dropout) so that every PE is probed deterministically.
    """
    model.eval()
    model.zero_grad(set_to_none=True)
    with torch.enable_grad():
        loss = loss_fn(model)
        loss.backward()
    groups = component_params(model)
    nonfinite = int(not math.isfinite(loss.item()))
    nonfinite += sum(int((~torch.isfinite(p.grad)).sum()) for p in model.parameters() if p.grad is not None)
    out = {"loss": _finite_or_nan(loss.item()), "grad_norm": {k: _finite_or_nan(_norm(v)) for k, v in groups.items()},
           "layer_grad_norm": {}, "layer_mean_grad_norm": {}, "nonfinite": nonfinite}
    for i, block in enumerate(model.blocks):
        params = [p for p in block.parameters() if p.grad is not None]
        out["layer_grad_norm"][f"layer{i}"] = _finite_or_nan(_norm(params))
        out["layer_mean_grad_norm"][f"layer{i}"] = _finite_or_nan(
            float(np.mean([float(p.grad.double().norm()) for p in params])) if params else 0.0)
    model.zero_grad(set_to_none=True)
    return out


def _finite_or_nan(x: float) -> float:
    return x if math.isfinite(x) else float("nan")


def attention_entropy(weights: list[torch.Tensor], queries: torch.Tensor, n_keys: torch.Tensor) -> dict:
    """Per-layer mean entropy of attention rows, raw (nats) and normalised by log(n_keys).

    weights: per layer (B, H, T, T); queries: (B, T) bool, the rows to score;
    n_keys: (B, T) number of keys each query can see (rows with fewer than 2 are skipped).
    """
    rows = queries & (n_keys >= 2)  # (B, T)
    entropy, normalised = [], []
    for w in weights:
        h = -torch.xlogy(w.double(), w.double()).sum(-1)  # (B, H, T)
        sel = rows[:, None, :].expand_as(h)
        entropy.append(_finite_or_nan(float(h[sel].mean())))
        normalised.append(_finite_or_nan(float((h / n_keys.double().log()[:, None, :])[sel].mean())))
    return {"entropy": entropy, "entropy_norm": normalised}


def source_mass(weights: list[torch.Tensor], n: int) -> list[list[float]]:
    """Copy task: mean weight on the source key t - n over target queries t = n .. 2n-1, per layer and head."""
    t = torch.arange(n, 2 * n)
    return [[_finite_or_nan(float(x)) for x in w[:, :, t, t - n].double().mean(dim=(0, 2))] for w in weights]


# ---------------------------------------------------------------- synthetic causal LMs

def _eval_batch(splits: dict[str, Sources], task: str, vocab_size: int, L: int, batch_size: int):
    sources = splits[f"eval_{L}"]
    chosen = [sources.get(i) for i in range(min(batch_size, len(sources)))]
    return synthetic.make_batch(chosen, task, vocab_size), int(sources.lengths[0])


@torch.no_grad()
def _weights(model, idx):
    model.eval()
    _, weights = model(idx, need_weights=True)
    return [w.float() for w in weights]


def probe_lm(model, splits: dict[str, Sources], task: str, vocab_size: int, grad_lengths: list[int],
             attention_lengths: list[int], map_lengths: list[int], batch_size: int) -> tuple[dict, dict]:
    """All probes of one causal LM on the first `batch_size` evaluation sequences at each length.

    Returns (metrics, maps): metrics["gradients"][L] from gradient_probe,
    metrics["attention"][L] = {"entropy", "entropy_norm", "source_mass" (copy
    only, else None)}; maps[f"attn_{L}"] = (layers, heads, T, T) float16
    weights of evaluation sequence 0 and maps[f"n_{L}"] its source length.
    """
    model.cpu()
    metrics: dict = {"gradients": {}, "attention": {}}
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


# ---------------------------------------------------------------- IMDb classifiers

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
