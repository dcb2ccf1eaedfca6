"""Positional encodings behind one interface with three hooks (DESIGN section 3).

A PE may act in three places; each hook is a no-op in the base class:

    forward(x, seq_len)       add position information to token embeddings   (sinusoidal, learned)
    rotate(q, k, positions)   rotate queries and keys after the head split   (RoPE)
    score_bias(q_len, k_len)  additive bias on attention scores, (H, Tq, Tk) (ALiBi)

Attention calls all three every time, so a new PE is a class plus a registry
entry, never a flag on attention. Fixed tables are built once in __init__ as
non-persistent buffers (not saved in checkpoints) and only sliced afterwards.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from posenc.errors import ConfigError


class PositionalEncoding(nn.Module):
    """Base class: no position information at all (every hook is the identity)."""

    def __init__(self, d_model: int, n_heads: int, max_positions: int, train_max_len: int, rope_base: float):
        super().__init__()
        self.d_model, self.n_heads = d_model, n_heads
        self.max_positions = max_positions

    def check_length(self, seq_len: int) -> None:
        if seq_len > self.max_positions:
            raise ConfigError(
                f"model.max_positions: sequence of {seq_len} tokens exceeds the table size {self.max_positions}"
            )

    def forward(self, x: torch.Tensor, seq_len: int) -> torch.Tensor:
        """x: (B, T, D) token embeddings -> (B, T, D) with positions added."""
        return x

    def rotate(self, q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor):
        """q, k: (B, H, T, Dh); positions: (T,) -> rotated (q, k)."""
        return q, k

    def score_bias(self, q_len: int, k_len: int) -> torch.Tensor | None:
        """(H, Tq, Tk) bias added to QK^T/sqrt(Dh), or None when there is none."""
        return None


class SinusoidalPE(PositionalEncoding):
    """Vaswani et al. 2017, section 3.5:

        PE[p, 2i]   = sin(p / 10000^(2i/d))
        PE[p, 2i+1] = cos(p / 10000^(2i/d))

    No parameters. The table is a function of p, so it is defined past the
    training length; evaluating there tests whether the model generalises to
    the unseen phase combinations, not whether the table exists.
    """

    def __init__(self, d_model, n_heads, max_positions, train_max_len, rope_base):
        super().__init__(d_model, n_heads, max_positions, train_max_len, rope_base)
        pos = torch.arange(max_positions, dtype=torch.float64)[:, None]  # (P, 1)
        inv_freq = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
        table = torch.zeros(max_positions, d_model, dtype=torch.float64)
        table[:, 0::2] = torch.sin(pos * inv_freq)
        table[:, 1::2] = torch.cos(pos * inv_freq)
        self.register_buffer("table", table.float(), persistent=False)  # (P, D)

    def forward(self, x, seq_len):
        self.check_length(seq_len)
        return x + self.table[:seq_len]


class LearnedPE(PositionalEncoding):
    """A trained table of train_max_len rows (BERT/GPT-2 style).

    Never extended: positions >= train_max_len reuse the last trained row
    (clamp), so at 512 or 1024 tokens every late position looks like position
    train_max_len - 1. That is the honest reading of "learned positions do not
    exist past training".
    """

    def __init__(self, d_model, n_heads, max_positions, train_max_len, rope_base):
        super().__init__(d_model, n_heads, max_positions, train_max_len, rope_base)
        self.table = nn.Embedding(train_max_len, d_model)  # N(0, 1) init, same scale as token embeddings

    def positions(self, seq_len: int) -> torch.Tensor:
        pos = torch.arange(seq_len, device=self.table.weight.device)
        return pos.clamp(max=self.table.num_embeddings - 1)

    def forward(self, x, seq_len):
        self.check_length(seq_len)
        return x + self.table(self.positions(seq_len))


class RoPE(PositionalEncoding):
    """Rotary position embedding, Su et al. 2021 (RoFormer), base 10000.

    Pairing: half-split (GPT-NeoX convention): dimension i is rotated together
    with dimension i + Dh/2 by angle p * theta_i, theta_i = base^(-2i/Dh).
    Because R(p)^T R(p') = R(p' - p), q_p . k_p' depends on p' - p only.
    Computed in float32 whatever the autocast dtype.
    """

    def __init__(self, d_model, n_heads, max_positions, train_max_len, rope_base):
        super().__init__(d_model, n_heads, max_positions, train_max_len, rope_base)
        head_dim = d_model // n_heads
        inv_freq = rope_base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)  # (Dh/2,)
        angles = torch.arange(max_positions, dtype=torch.float64)[:, None] * inv_freq  # (P, Dh/2)
        self.register_buffer("cos", angles.cos().float(), persistent=False)
        self.register_buffer("sin", angles.sin().float(), persistent=False)

    def rotate(self, q, k, positions):
        self.check_length(int(positions.max()) + 1)
        cos = self.cos[positions].repeat(1, 2)  # (T, Dh): same angle for i and i + Dh/2
        sin = self.sin[positions].repeat(1, 2)
        return _rotate_pairs(q, cos, sin), _rotate_pairs(k, cos, sin)


def _rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (x_i, x_{i+Dh/2}) by the angle whose cos/sin are given. x: (B, H, T, Dh); cos, sin: (T, Dh)."""
    dtype = x.dtype
    x = x.float()
    x1, x2 = x.chunk(2, dim=-1)  # halves, (B, H, T, Dh/2) each
    rotated = torch.cat((-x2, x1), dim=-1)
    return (x * cos + rotated * sin).to(dtype)


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Head slopes of Press et al. 2022 (ALiBi), section 3 and their reference code.

    For n a power of two: m_h = 2^(-8h/n), h = 1..n (8 heads: 1/2, 1/4, ..., 1/256).
    Otherwise take the 2^floor(log2 n) slopes, then fill up with every other
    slope of the 2 * 2^floor(log2 n) sequence.
    """

    def power_of_two(n):
        start = 2.0 ** (-8.0 / n)
        return [start ** (h + 1) for h in range(n)]

    closest = 2 ** math.floor(math.log2(n_heads))
    slopes = power_of_two(closest)
    if closest < n_heads:
        slopes += power_of_two(2 * closest)[0::2][: n_heads - closest]
    return torch.tensor(slopes, dtype=torch.float32)


class ALiBi(PositionalEncoding):
    """Attention with Linear Biases, Press et al. 2022: score(i, j) += -m_h * |i - j|.

    Added after the 1/sqrt(Dh) scaling and not scaled by it. The symmetric
    |i - j| form serves both the causal LM (future keys are masked anyway) and
    bidirectional classifiers. No embedding is added to the tokens.
    """

    def __init__(self, d_model, n_heads, max_positions, train_max_len, rope_base):
        super().__init__(d_model, n_heads, max_positions, train_max_len, rope_base)
        self.register_buffer("slopes", alibi_slopes(n_heads), persistent=False)  # (H,)
        pos = torch.arange(max_positions)
        self.register_buffer("distance", (pos[None, :] - pos[:, None]).abs().float(), persistent=False)  # (P, P)

    def score_bias(self, q_len, k_len):
        self.check_length(max(q_len, k_len))
        # Queries are the last q_len positions of the k_len keys (q_len == k_len without a KV cache).
        dist = self.distance[k_len - q_len : k_len, :k_len]  # (Tq, Tk)
        return -self.slopes[:, None, None] * dist  # (H, Tq, Tk)


REGISTRY: dict[str, type[PositionalEncoding]] = {
    "nope": PositionalEncoding,
    "sinusoidal": SinusoidalPE,
    "learned": LearnedPE,
    "rope": RoPE,
    "alibi": ALiBi,
}


def available() -> tuple[str, ...]:
    return tuple(REGISTRY)


def build_pe(name: str, d_model: int, n_heads: int, max_positions: int, train_max_len: int,
             rope_base: float = 10000.0) -> PositionalEncoding:
    """The registry: the only place that maps a PE's name to its class."""
    if name not in REGISTRY:
        raise ConfigError(f"pes: unknown PE {name!r}; choose from {', '.join(REGISTRY)}")
    return REGISTRY[name](d_model, n_heads, max_positions, train_max_len, rope_base)
