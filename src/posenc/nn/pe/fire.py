"""FIRE: Functional Interpolation for Relative Positions (Li et al., ICLR 2024)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from posenc.nn.pe.base import PositionalEncoding, Theory, require


@dataclass(frozen=True)
class FireParams:
    mlp_width: int  # hidden width of f_theta (1 -> width -> heads)
    init_c: float  # psi(x) = log(c x + 1); c is learned (the paper), starting here
    init_L: float  # the normaliser's threshold L is learned too, starting here (the training length)


class Fire(PositionalEncoding):
    """score(i, j) += f_theta(psi(i - j) / psi(max(L, i))), psi(x) = log(|c| x + 1), f_theta an MLP
    (1 -> mlp_width -> ReLU -> heads) shared by all layers; c and L are learned (Li et al. 2024, eq. 4-5).

    Causal (the paper's setting): i - j >= 0. Bidirectional (IMDb): the distance keeps its sign,
    sign(i - j) psi(|i - j|) / psi(max(L, i)), so f_theta can tell earlier from later keys; the
    normaliser stays a function of the query's position only, so padding changes nothing. Costs
    T^2 x mlp_width activations per forward.
    """

    Params = FireParams
    theory = Theory(
        kind="relative", where="learned function of the normalised distance on the attention scores",
        attention_cost="O(T^2 w) per forward for an MLP of width w (one bias shared by all layers)",
        other_cost="none",
        pros=("progressive normalisation maps any length into the trained input range of f_theta",
              "learns its own distance bias per head"),
        cons=("T^2 x width MLP activations per forward (memory at long lengths)",
              "past L the bias of a distance depends on the query position (not purely relative)"),
        mechanism=(
            "Each head adds f(psi(i - j) / psi(max(L, i))) with psi(x) = log(cx + 1) and f a small MLP; c and "
            "L are learned (Li et al. 2024). Dividing by the query's own position maps every distance into "
            "[0, 1] whatever the length, so a query at a position beyond the training length sees inputs "
            "of f it was trained on: relative distances are interpolated rather than extrapolated. The "
            "price is that, past L, a distance means a smaller input of f the farther the query is, so "
            "attention patterns stretch with the length instead of staying fixed."
        ),
    )

    @classmethod
    def check(cls, params, dims, key):
        require(params.mlp_width > 0, f"{key}.mlp_width", f"must be > 0, got {params.mlp_width}")
        require(params.init_c > 0, f"{key}.init_c", f"must be > 0, got {params.init_c}")
        require(params.init_L >= 1, f"{key}.init_L", f"must be >= 1, got {params.init_L}")

    def __init__(self, params, dims):
        super().__init__(params, dims)
        self.mlp = nn.Sequential(nn.Linear(1, params.mlp_width), nn.ReLU(), nn.Linear(params.mlp_width, dims.n_heads))
        self.c = nn.Parameter(torch.tensor(float(params.init_c)))
        self.L = nn.Parameter(torch.tensor(float(params.init_L)))

    def psi(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(self.c.abs() * x + 1)

    def score_bias(self, q_positions, k_positions):
        rel = (q_positions[:, None] - k_positions[None, :]).float()  # (Tq, Tk), > 0 for earlier keys
        norm = self.psi(torch.maximum(q_positions.float(), self.L.abs()))[:, None]  # (Tq, 1)
        x = torch.sign(rel) * self.psi(rel.abs()) / norm  # causal: rel >= 0 wherever it matters
        return self.mlp(x[..., None]).permute(2, 0, 1)  # (H, Tq, Tk)


PE = Fire
