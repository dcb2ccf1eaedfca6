"""Attention with Linear Biases (Press et al. 2022)."""

from __future__ import annotations

import math

import torch

from posenc.nn.pe.base import PositionalEncoding, Theory


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Head slopes of Press et al. 2022, section 3 and their reference code.

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
    """score(i, j) += -m_h * |i - j|, added after the 1/sqrt(Dh) scaling and not scaled by it.

    The symmetric |i - j| form serves both the causal LM (future keys are
    masked anyway) and the bidirectional classifier. No embedding is added.
    """

    theory = Theory(
        kind="relative", where="bias -m_h |i - j| on the attention scores",
        attention_cost="O(H T^2) per forward (one bias shared by all layers)", other_cost="none",
        pros=("no parameters, no embedding", "new distances only add keys with a larger penalty"),
        cons=("recency bias: fixed slopes push attention towards nearby tokens",
              "the T x T bias is materialised as a float mask here"),
        mechanism=(
            "Each head h adds -m_h |i - j| to its scores (Press et al. 2022), with geometric slopes "
            "m_h = 2^(-8h/H) ({slopes} here). Distances beyond the training length get an even larger penalty, so "
            "a query's attention stays close to what it was in training; the price is a bias against distant keys. "
            "A token that must be read from far away needs a head whose slope is small enough for that distance, "
            "and the penalty keeps growing with it."
        ),
    )

    @classmethod
    def theory_fill(cls, params, dims):
        return {"slopes": ", ".join(f"1/{round(1 / x)}" for x in alibi_slopes(dims.n_heads).tolist())}

    def __init__(self, params, dims):
        super().__init__(params, dims)
        self.register_buffer("slopes", alibi_slopes(dims.n_heads), persistent=False)  # (H,)

    def score_bias(self, q_positions, k_positions):
        dist = (k_positions[None, :] - q_positions[:, None]).abs().float()  # (Tq, Tk)
        return -self.slopes[:, None, None] * dist  # (H, Tq, Tk)


PE = ALiBi
