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
            "distance (a prefix of random tokens), or only the absolute positions (a shift). The same weights "
            "are also evaluated with three rescalings that need no retraining (rows rope_pi, rope_ntk, "
            "rope_yarn): position interpolation divides every angle by the length ratio (Chen et al. 2023), "
            "NTK-aware scaling raises the base so the fastest pair is untouched and the slowest interpolated, and "
            "YaRN interpolates only the pairs whose wavelength exceeds the training length and sharpens "
            "attention (Peng et al. 2023). PI and YaRN were published with a short fine-tuning, which is not done "
            "here, so they are expected to do worse than in their papers; NTK-aware scaling is the one meant to "
            "work without it."
        ),
    )

    @classmethod
    def check(cls, params, dims, key):
        require(params.base > 1.0, f"{key}.base", f"must be > 1, got {params.base}")
        check_even_head(dims, "rope")

    @classmethod
    def theory_fill(cls, params, dims):
        return {"base": f"{params.base:g}"}

    eval_variants = ("pi", "ntk", "yarn")

    def __init__(self, params, dims):
        super().__init__(params, dims)
        self.temperature = 1.0  # YaRN's attention scaling (1: none)
        self._set_tables(self.inv_freq(params.base))

    def inv_freq(self, base: float) -> torch.Tensor:
        """theta_i = base^(-2i/Dh), i = 0..Dh/2-1, float64."""
        return base ** (-torch.arange(0, self.dims.head_dim, 2, dtype=torch.float64) / self.dims.head_dim)

    def _set_tables(self, inv_freq: torch.Tensor) -> None:
        angles = torch.arange(self.dims.max_positions, dtype=torch.float64)[:, None] * inv_freq  # (P, Dh/2)
        device = self.cos.device if hasattr(self, "cos") else None
        self.register_buffer("cos", angles.cos().float().to(device), persistent=False)
        self.register_buffer("sin", angles.sin().float().to(device), persistent=False)

    def set_variant(self, variant, scale):
        """RoPE scaling at evaluation, for inputs s = scale times the training length (s <= 1: as trained):

        - pi (Chen et al. 2023, position interpolation): theta_i / s, so position L s gets the angle of L;
        - ntk (NTK-aware, bloc97 2023): base * s^(Dh/(Dh-2)): the highest frequency is unchanged, the
          lowest is interpolated like PI;
        - yarn (Peng et al. 2023): per frequency, interpolate (theta_i / s) the ones whose wavelength
          exceeds the training length (r = L_train / wavelength < 1), keep those with r > 32, ramp
          linearly between, and scale q and k by 0.1 ln s + 1 each (the attention temperature).
        PI and YaRN were published with a short fine-tuning, which this project does not do."""
        s = max(1.0, float(scale))
        theta = self.inv_freq(self.params.base)
        self.temperature = 1.0
        if variant is None or s == 1.0:
            pass
        elif variant == "pi":
            theta = theta / s
        elif variant == "ntk":
            theta = self.inv_freq(self.params.base * s ** (self.dims.head_dim / (self.dims.head_dim - 2)))
        elif variant == "yarn":
            r = self.dims.train_max_len * theta / (2 * torch.pi)  # training length / wavelength
            keep = ((r - 1.0) / (32.0 - 1.0)).clamp(0.0, 1.0)  # 0: interpolate, 1: keep
            theta = (1 - keep) * theta / s + keep * theta
            self.temperature = 0.1 * float(torch.log(torch.tensor(s))) + 1.0
        else:
            super().set_variant(variant, scale)
        self._set_tables(theta)

    def rotate(self, q, k, positions):
        cos = torch.cat([self.cos[positions]] * 2, dim=-1)  # (T, Dh) or (B, T, Dh): one angle for i, i + Dh/2
        sin = torch.cat([self.sin[positions]] * 2, dim=-1)
        if positions.dim() == 2:  # per-sequence positions (a randomized PE on a padded batch)
            cos, sin = cos[:, None], sin[:, None]  # (B, 1, T, Dh)
        q, k = rotate_pairs(q, cos, sin), rotate_pairs(k, cos, sin)
        return (q, k) if self.temperature == 1.0 else (q * self.temperature, k * self.temperature)


def rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (x_i, x_{i+Dh/2}) by the angle whose cos/sin are given. x: (B, H, T, Dh); cos, sin: (T, Dh) or
    (B, 1, T, Dh)."""
    dtype = x.dtype
    x = x.float()
    x1, x2 = x.chunk(2, dim=-1)  # halves, (B, H, T, Dh/2) each
    rotated = torch.cat((-x2, x1), dim=-1)
    return (x * cos + rotated * sin).to(dtype)


PE = RoPE
