"""Rotary position embedding (Su et al. 2021, RoFormer)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from posenc.nn.pe.base import PositionalEncoding, Theory, check_even_head, require


@dataclass(frozen=True)
class RoPEParams:
    base: float  # theta_i = base^(-2i/Dh); 10000 in the paper


class RoPE(PositionalEncoding):
    """Pairing: half-split (GPT-NeoX convention): dimension i is rotated together
    with dimension i + Dh/2 by angle p * theta_i, theta_i = base^(-2i/Dh).
    Because R(p)^T R(p') = R(p' - p), q_p . k_p' depends on p' - p only.
    Computed in float32 whatever the autocast dtype.
    """

    Params = RoPEParams
    theory = Theory(
        kind="relative", where="rotates queries and keys in every layer",
        attention_cost="O(T d) per layer (rotating q and k)", other_cost="none",
        pros=("attention scores depend only on the distance i - j", "no parameters"),
        cons=("distances longer than in training give rotation angles never seen",
              "extra elementwise work on q and k in every layer"),
        mechanism=(
            "Each pair of query/key dimensions is rotated by p * theta_i, theta_i = {base}^(-2i/d_head) (Su et al. "
            "2021), so q_i . k_j depends on i - j only, and shifting every position changes nothing. Training shows "
            "distances up to {last}. The usual explanation of its failure past the training length is that longer "
            "inputs bring distances up to {longest_last}, whose angles for the slow pairs were never seen (Press "
            "et al. 2022; Chen et al. 2023, position interpolation). That is a hypothesis here, not a given: the "
            "distance probe below holds the copy offset at training values and grows only the largest query-key "
            "distance (a prefix of random tokens), or only the absolute positions (a shift)."
        ),
    )

    @classmethod
    def check(cls, params, dims, key):
        require(params.base > 1.0, f"{key}.base", f"must be > 1, got {params.base}")
        check_even_head(dims, "rope")

    @classmethod
    def theory_fill(cls, params, dims):
        return {"base": f"{params.base:g}"}

    def __init__(self, params, dims):
        super().__init__(params, dims)
        inv_freq = params.base ** (-torch.arange(0, dims.head_dim, 2, dtype=torch.float64) / dims.head_dim)
        angles = torch.arange(dims.max_positions, dtype=torch.float64)[:, None] * inv_freq  # (P, Dh/2)
        self.register_buffer("cos", angles.cos().float(), persistent=False)
        self.register_buffer("sin", angles.sin().float(), persistent=False)

    def rotate(self, q, k, positions):
        cos = self.cos[positions].repeat(1, 2)  # (T, Dh): the same angle for i and i + Dh/2
        sin = self.sin[positions].repeat(1, 2)
        return rotate_pairs(q, cos, sin), rotate_pairs(k, cos, sin)


def rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (x_i, x_{i+Dh/2}) by the angle whose cos/sin are given. x: (B, H, T, Dh); cos, sin: (T, Dh)."""
    dtype = x.dtype
    x = x.float()
    x1, x2 = x.chunk(2, dim=-1)  # halves, (B, H, T, Dh/2) each
    rotated = torch.cat((-x2, x1), dim=-1)
    return (x * cos + rotated * sin).to(dtype)


PE = RoPE
