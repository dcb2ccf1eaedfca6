"""The shared Transformer block and the causal LM built from it (DESIGN section 4).

Every model differs only in its positional encoding `pe`, which attention
consults through three hooks (see encodings.py). Pre-norm residual blocks:

    x = x + Dropout(Attention(Norm(x)))
    x = x + Dropout(FFN(Norm(x)))          FFN = Linear(D, 4D) -> GELU -> Linear(4D, D)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from posenc.config import ModelConfig
from posenc.encodings import PositionalEncoding, build_pe


def additive_mask(bias: torch.Tensor | None, attention_mask: torch.Tensor | None, causal: bool,
                  q_len: int, k_len: int, dtype: torch.dtype, device) -> torch.Tensor | None:
    """Fold the PE bias, the causal mask and the padding mask into one float mask.

    bias: (H, Tq, Tk) or None; attention_mask: (B, Tk) with 1 = token, 0 = pad.
    Returns (B or 1, H or 1, Tq, Tk) to add to the scaled scores, or None when
    nothing needs adding. Blocked entries are -inf (softmax gives them 0).
    """
    mask = None if bias is None else bias.to(dtype)[None]  # (1, H, Tq, Tk)
    if causal:
        future = torch.ones(q_len, k_len, dtype=torch.bool, device=device).triu(k_len - q_len + 1)
        blocked = torch.zeros(q_len, k_len, dtype=dtype, device=device).masked_fill(future, float("-inf"))
        mask = blocked[None, None] if mask is None else mask + blocked
    if attention_mask is not None:
        pad = torch.zeros(attention_mask.shape, dtype=dtype, device=device)
        pad = pad.masked_fill(attention_mask == 0, float("-inf"))[:, None, None, :]  # (B, 1, 1, Tk)
        mask = pad if mask is None else mask + pad
    return mask


class SelfAttention(nn.Module):
    """Manual multi-head self-attention with an optional fused fast path.

    Manual path: softmax(QK^T / sqrt(Dh) + mask) V, which can return the weights.
    Fused path: F.scaled_dot_product_attention with the same float mask (or
    is_causal when there is nothing else to add); a test checks they agree.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout
        self.fused = True

    def forward(self, x, pe: PositionalEncoding, attention_mask=None, causal=True, need_weights=False):
        B, T, _ = x.shape
        q, k, v = rearrange(self.qkv(x), "b t (three h d) -> three b h t d", three=3, h=self.n_heads)  # (B, H, T, Dh)
        q, k = pe.rotate(q, k, torch.arange(T, device=x.device))
        bias = pe.score_bias(T, T)  # (H, T, T) or None
        p_drop = self.dropout if self.training else 0.0

        if self.fused and not need_weights:
            if bias is None and attention_mask is None:
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=p_drop, is_causal=causal)
            else:
                mask = additive_mask(bias, attention_mask, causal, T, T, q.dtype, x.device)
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p_drop)
            weights = None
        else:
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, T)
            mask = additive_mask(bias, attention_mask, causal, T, T, scores.dtype, x.device)
            if mask is not None:
                scores = scores + mask
            weights = scores.softmax(dim=-1)
            y = F.dropout(weights, p_drop, self.training) @ v  # (B, H, T, Dh)
        y = rearrange(y, "b h t d -> b t (h d)")
        return self.proj(y), weights


def make_norm(cfg: ModelConfig) -> nn.Module:
    return nn.LayerNorm(cfg.d_model) if cfg.norm == "layernorm" else nn.RMSNorm(cfg.d_model)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm1 = make_norm(cfg)
        self.attn = SelfAttention(cfg)
        self.norm2 = make_norm(cfg)
        self.ffn = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.ffn_mult * cfg.d_model),
            nn.GELU(),
            nn.Linear(cfg.ffn_mult * cfg.d_model, cfg.d_model),
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, pe, attention_mask=None, causal=True, need_weights=False):
        a, weights = self.attn(self.norm1(x), pe, attention_mask, causal, need_weights)
        x = x + self.drop(a)
        x = x + self.drop(self.ffn(self.norm2(x)))
        return x, weights


class CausalLM(nn.Module):
    """Decoder-only LM: tokens -> PE -> blocks -> norm -> logits over the vocabulary."""

    def __init__(self, cfg: ModelConfig, pe_name: str, vocab_size: int, train_max_len: int):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, cfg.d_model)  # N(0, 1) init, same scale as the sinusoidal table
        self.pe = build_pe(pe_name, cfg.d_model, cfg.n_heads, cfg.max_positions, train_max_len, cfg.rope_base)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = make_norm(cfg)
        self.head = nn.Linear(cfg.d_model, vocab_size, bias=False)

    def set_fused(self, fused: bool) -> None:
        for block in self.blocks:
            block.attn.fused = fused

    def forward(self, idx, attention_mask=None, need_weights=False):
        """idx: (B, T) token ids -> logits (B, T, V), and per-layer (B, H, T, T) weights if asked.

        With right padding a causal model never lets a real token see a pad, so
        attention_mask may be left out for speed; pass it to mask pads as keys anyway.
        """
        T = idx.shape[1]
        x = self.drop(self.pe(self.tok_emb(idx), T))  # (B, T, D)
        all_weights = []
        for block in self.blocks:
            x, w = block(x, self.pe, attention_mask, causal=True, need_weights=need_weights)
            all_weights.append(w)
        logits = self.head(self.norm(x))
        return (logits, all_weights) if need_weights else logits
