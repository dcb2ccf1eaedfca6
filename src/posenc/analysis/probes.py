"""Looking inside trained models: why an encoding survives or collapses.

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

The probes of one kind of model are in probes_lm.py (causal LMs, with the
attention maps of one fixed copy example for the figures) and probes_imdb.py.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


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
