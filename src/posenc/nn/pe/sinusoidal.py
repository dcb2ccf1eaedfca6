"""Sinusoidal absolute positions (Vaswani et al. 2017, section 3.5)."""

from __future__ import annotations

import math

import torch

from posenc.nn.pe.base import PositionalEncoding, Theory


class SinusoidalPE(PositionalEncoding):
    """PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d)), added to the token embeddings.

    No parameters. The table is a function of p, so it is defined past the
    training length; evaluating there tests whether the model generalises to
    the unseen phase combinations, not whether the table exists.
    """

    theory = Theory(
        kind="absolute", where="added to the token embeddings", attention_cost="none",
        other_cost="O(T d) addition once per forward pass",
        pros=("no parameters", "defined at every position, so longer inputs are well-formed"),
        cons=("absolute: a head that reads by offset must learn it from absolute codes",
              "past the training length the slow frequencies reach phases never seen"),
        mechanism=(
            "Position p is encoded as sin/cos(p / 10000^(2i/d)) and added to the token embedding (Vaswani et al. "
            "2017). An offset is a fixed rotation of each frequency pair, so relative reading is expressible, but "
            "the model learns it from the absolute codes it was shown. With training positions 0-{last}, the slow "
            "frequencies cover only a small part of their period; positions {train}-{longest_last} bring phase "
            "combinations the network never saw, in every layer that reads the residual stream."
        ),
    )

    def __init__(self, params, dims):
        super().__init__(params, dims)
        pos = torch.arange(dims.max_positions, dtype=torch.float64)[:, None]  # (P, 1)
        inv_freq = torch.exp(-math.log(10000.0) * torch.arange(0, dims.d_model, 2, dtype=torch.float64)
                             / dims.d_model)  # (D/2,)
        table = torch.zeros(dims.max_positions, dims.d_model, dtype=torch.float64)
        table[:, 0::2] = torch.sin(pos * inv_freq)
        table[:, 1::2] = torch.cos(pos * inv_freq)
        self.register_buffer("table", table.float(), persistent=False)  # (P, D): built once, never saved

    def embed(self, x, positions):
        return x + self.table[positions]  # (B, T, D) + (T, D)


PE = SinusoidalPE
