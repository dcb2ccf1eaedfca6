"""Manual multi-head self-attention, the one place a PE's rotate hook is called.

    scores = Q K^T / sqrt(Dh) + mask          mask = PE bias + causal -inf + padding -inf (built once per forward)
    y      = softmax(scores) V

The fused F.scaled_dot_product_attention is the fast path when no weights are
asked for; the tests check it equals the manual path, masks and biases included.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def additive_mask(bias: torch.Tensor | None, attention_mask: torch.Tensor | None, causal: bool,
                  q_len: int, k_len: int, device) -> torch.Tensor | None:
    """Fold the PE bias, the causal mask and the padding mask into one float32 mask.

    bias: (H, Tq, Tk) or None; attention_mask: (B, Tk) with 1 = token, 0 = pad.
    Returns (B or 1, H or 1, Tq, Tk) to add to the scaled scores, or None when
    nothing needs adding. Blocked entries are -inf (softmax gives them 0).
    """
    dtype = torch.float32
    mask = None if bias is None else bias.to(dtype)[None]  # (1, H, Tq, Tk)
    if causal:
        future = torch.ones(q_len, k_len, dtype=torch.bool, device=device).triu(k_len - q_len + 1)
        blocked = torch.zeros(q_len, k_len, dtype=dtype, device=device).masked_fill(future, float("-inf"))
        mask = blocked[None, None] if mask is None else mask + blocked
    if attention_mask is not None:
        pad = torch.zeros(attention_mask.shape, dtype=dtype, device=device)
        pad = pad.masked_fill(attention_mask == 0, float("-inf"))[:, None, None, :]  # (B, 1, 1, Tk)
        mask = pad if mask is None else mask + pad
    if mask is not None and bias is not None:
        # A query that may see no key at all (a pad query outside every window of a hard-window PE) would
        # give a NaN row, and 0 x NaN spreads to real tokens in the next layer; such a row attends to the
        # first key instead (real under right padding, and causal). Its output is never used (pads are
        # never targets nor pooled).
        first_key = torch.zeros(q_len, k_len, dtype=torch.bool, device=device)  # (Tq, Tk)
        first_key[:, 0] = True
        mask = mask.masked_fill(torch.isinf(mask).all(-1, keepdim=True) & first_key, 0.0)
    return mask


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.dropout = dropout  # on the attention probabilities

    def forward(self, x, pe, positions, mask, is_causal: bool, fused: bool, need_weights: bool):
        """x: (B, T, D); mask: the shared float mask or None; is_causal: with mask None, causal without a mask.

        Returns (y (B, T, D), weights (B, H, T, T) or None).
        """
        q, k, v = rearrange(self.qkv(x), "b t (three h d) -> three b h t d", three=3, h=self.n_heads)  # (B, H, T, Dh)
        q, k = pe.rotate(q, k, positions)
        p_drop = self.dropout if self.training else 0.0
        if fused and not need_weights:
            attn_mask = None if mask is None else mask.to(q.dtype)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p_drop,
                                               is_causal=is_causal and mask is None)
            weights = None
        else:
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, T)
            if mask is not None:
                scores = scores + mask.to(scores.dtype)
            weights = scores.float().softmax(dim=-1).to(v.dtype)  # softmax statistics in float32
            y = F.dropout(weights, p_drop, self.training) @ v  # (B, H, T, Dh)
        return self.proj(rearrange(y, "b h t d -> b t (h d)")), weights
