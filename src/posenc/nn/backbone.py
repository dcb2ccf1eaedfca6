"""One Transformer for every model: token embedding -> PE -> pre-norm blocks -> norm -> a head.

    x = x + Dropout(Attention(Norm(x)))
    x = x + Dropout(FFN(Norm(x)))          FFN = Linear(D, 4D) -> GELU -> Linear(4D, D)

Two heads: `lm` (causal, logits per position over the vocabulary) and
`classifier` (bidirectional, mean over real tokens, logits per class). The
positions are computed once per forward and passed to every PE hook; the PE
bias and the masks are folded into one float mask once per forward and shared
by every layer (one per distinct bias when the PE's layers differ: its
`layer_biases`). The PE is the only thing that differs between models.
A `ModelSpec` is all it takes to rebuild a model; checkpoints carry it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn

from posenc.errors import ConfigError
from posenc.nn.attention import SelfAttention, additive_mask
from posenc.nn.pe import build_pe
from posenc.nn.pe.base import Dims

HEADS = ("lm", "classifier")


@dataclass(frozen=True)
class ModelSpec:
    """Everything that fixes a model's shape (like nanoGPT's model_args), independent of params.yaml's schema."""

    head: str  # "lm" (causal) or "classifier" (bidirectional, pooled)
    pe: str
    vocab_size: int
    train_max_len: int
    n_layers: int
    d_model: int
    n_heads: int
    ffn_mult: int
    norm: str
    dropout: float  # on embeddings and residual branches
    attn_dropout: float  # on attention probabilities
    max_positions: int
    n_classes: int = 0  # classifier only
    pe_params: dict = field(default_factory=dict)  # the PE's own section, pe.<name>

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def make_norm(spec: ModelSpec) -> nn.Module:
    return nn.LayerNorm(spec.d_model) if spec.norm == "layernorm" else nn.RMSNorm(spec.d_model)


class Block(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.norm1 = make_norm(spec)
        self.attn = SelfAttention(spec.d_model, spec.n_heads, spec.attn_dropout)
        self.norm2 = make_norm(spec)
        self.ffn = nn.Sequential(
            nn.Linear(spec.d_model, spec.ffn_mult * spec.d_model),
            nn.GELU(),
            nn.Linear(spec.ffn_mult * spec.d_model, spec.d_model),
        )
        self.drop = nn.Dropout(spec.dropout)

    def forward(self, x, pe, positions, mask, is_causal, fused, need_weights):
        a, weights = self.attn(self.norm1(x), pe, positions, mask, is_causal, fused, need_weights)
        x = x + self.drop(a)
        x = x + self.drop(self.ffn(self.norm2(x)))
        return x, weights


class PooledHead(nn.Module):
    """Mean over real tokens, then Linear(D, C): a review's logits do not depend on its batch's padding."""

    def __init__(self, d_model: int, n_classes: int):
        super().__init__()
        self.proj = nn.Linear(d_model, n_classes)

    def forward(self, x, attention_mask):
        keep = attention_mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
        return self.proj((x * keep).sum(1) / keep.sum(1).clamp(min=1.0))  # (B, C)


class Transformer(nn.Module):
    """The backbone with its head. Parameters are created in a fixed order (tok_emb, pe, blocks, norm, head)."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        if spec.head not in HEADS:
            raise ConfigError(f"model head {spec.head!r}: choose from {', '.join(HEADS)}")
        self.spec, self.causal, self.fused = spec, spec.head == "lm", True
        self.position_seed = 0  # evaluation draws of a randomized PE (set by the scoring loops)
        dims = Dims(spec.d_model, spec.n_heads, spec.max_positions, spec.train_max_len, self.causal)
        self.tok_emb = nn.Embedding(spec.vocab_size, spec.d_model)  # N(0, 1) init, the sinusoidal table's scale
        self.pe = build_pe(spec.pe, spec.pe_params, dims)
        self.drop = nn.Dropout(spec.dropout)
        self.blocks = nn.ModuleList(Block(spec) for _ in range(spec.n_layers))
        self.norm = make_norm(spec)
        self.head = (nn.Linear(spec.d_model, spec.vocab_size, bias=False) if self.causal
                     else PooledHead(spec.d_model, spec.n_classes))

    def set_fused(self, fused: bool) -> None:
        """Use the fused attention kernel (default) or the manual path everywhere."""
        self.fused = fused

    def positions(self, T: int, device, offset: int = 0, attention_mask=None) -> torch.Tensor:
        """The one positions tensor every PE hook sees: offset..offset+T-1, (T,), or the PE's own draw
        (a randomized PE: (T,) or, for a padded batch, (B, T); seeded in eval mode so scores are
        deterministic, see nn/pe/_randomized.py)."""
        if T + offset > self.spec.max_positions:
            raise ConfigError(f"model.max_positions: positions up to {T + offset - 1} exceed the table size "
                              f"{self.spec.max_positions}")
        lengths = None if attention_mask is None else attention_mask.sum(1)
        return self.pe.positions(T, offset, lengths, None if self.training else self.position_seed, device)

    def draw_seeds(self, n: int) -> range:
        """The evaluation seeds a scoring loop averages over: n for a randomized PE, else one (0)."""
        return range(n if self.pe.randomized else 1)

    def each_draw(self, n: int):
        """Set position_seed to each of draw_seeds(n) in turn (a scoring loop runs once per seed and averages);
        back to 0 afterwards."""
        try:
            for seed in self.draw_seeds(n):
                self.position_seed = seed
                yield seed
        finally:
            self.position_seed = 0

    def forward(self, idx, attention_mask=None, need_weights=False, offset: int = 0):
        """idx: (B, T) token ids; attention_mask: (B, T), 1 = token, 0 = pad (required by the classifier).

        Returns logits, (B, T, V) for the LM or (B, C) for the classifier, and
        the per-layer (B, H, T, T) attention weights if asked. With right
        padding a causal model never lets a real token see a pad, so the LM's
        attention_mask may be left out for speed. `offset` shifts every position (a probe: the same
        tokens at positions offset..offset+T-1, all distances unchanged).
        """
        T = idx.shape[1]
        positions = self.positions(T, idx.device, offset, attention_mask)  # (T,) or (B, T)
        x = self.drop(self.pe.embed(self.tok_emb(idx), positions))  # (B, T, D)
        biases = self.pe.layer_biases(positions, positions, len(self.blocks))  # per layer (H, T, T) or None
        masks = {}  # one mask per distinct bias: a bias shared by every layer is folded in once
        for bias in biases:
            if id(bias) not in masks:
                fast = self.fused and not need_weights and bias is None and attention_mask is None
                masks[id(bias)] = None if fast else additive_mask(bias, attention_mask, self.causal, T, T, idx.device)
        all_weights = []
        for block, bias in zip(self.blocks, biases):
            x, w = block(x, self.pe, positions, masks[id(bias)], self.causal, self.fused, need_weights)
            all_weights.append(w)
        x = self.norm(x)
        logits = self.head(x) if self.causal else self.head(x, attention_mask)
        return (logits, all_weights) if need_weights else logits


def build_model(spec: ModelSpec) -> Transformer:
    return Transformer(spec)
