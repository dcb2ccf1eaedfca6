"""Learned absolute positions (BERT / GPT-2 style): one trained row per training position."""

from __future__ import annotations

import torch
from torch import nn

from posenc.nn.pe.base import PositionalEncoding, Theory


class LearnedPE(PositionalEncoding):
    """A trained table of train_max_len rows, added to the token embeddings.

    Never extended: positions >= train_max_len are clamped to one row. Not to the
    last row: in a causal LM the last position of a training sequence is never in
    the loss, so its row gets no gradient, and late rows get it only from the few
    steps whose sequences reach them (issue 15). The table counts, per row, the
    training steps in which that row received a gradient (`row_steps`, out of
    `updates`, both saved with the weights), and the clamp row is the last row
    trained in at least half of the steps: a row trained as well as the others.
    """

    theory = Theory(
        kind="absolute", where="added to the token embeddings", attention_cost="none",
        other_cost="O(T d) table lookup and addition once per forward pass",
        pros=("fits any positional pattern the task needs", "standard in BERT and GPT-2"),
        cons=("one d-sized row per training position (extra parameters)",
              "no rows past the training length: every later position reuses the last row"),
        mechanism=(
            "A trained row per position 0-{last} is added to the token embedding. There is nothing to look up past "
            "{last}; this project clamps later positions to the last row that received a gradient in at least half "
            "of the training steps, so every token past the {train}th carries that one position vector and "
            "position-based attention cannot tell those tokens apart. The row is added to the residual stream "
            "that feeds queries, keys and values, so content-based attention sees the same vector on every late "
            "token as well: it is not untouched, it is shifted alike."
        ),
    )

    def __init__(self, params, dims):
        super().__init__(params, dims)
        self.table = nn.Embedding(dims.train_max_len, dims.d_model)  # N(0, 1) init, the token embeddings' scale
        self.register_buffer("row_steps", torch.zeros(dims.train_max_len, dtype=torch.long))  # (train_max_len,)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self.table.weight.register_hook(self._count)

    def _count(self, grad: torch.Tensor) -> None:
        """Backward hook on the table: one more step for every row with a non-zero gradient (training only)."""
        if self.training:
            self.row_steps += (grad != 0).any(dim=-1).long()
            self.updates += 1

    def clamp_row(self) -> torch.Tensor:
        """The last row with a gradient in at least half of the training steps (the last row if untrained).
        A 0-d tensor: no host sync."""
        well = self.row_steps * 2 >= self.updates.clamp(min=1)  # (train_max_len,)
        last = torch.arange(len(well), device=well.device)
        return torch.where(self.updates > 0, (last * well).max(), torch.tensor(len(well) - 1, device=well.device))

    def embed(self, x, positions):
        rows = torch.where(positions < self.table.num_embeddings, positions, self.clamp_row())
        return x + self.table(rows)  # (B, T, D) + (T, D)


PE = LearnedPE
