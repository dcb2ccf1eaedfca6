"""Learned absolute positions (BERT / GPT-2 style): one trained row per training position."""

from __future__ import annotations

from torch import nn

from posenc.nn.pe.base import PositionalEncoding, Theory


class LearnedPE(PositionalEncoding):
    """A trained table of train_max_len rows, added to the token embeddings.

    Never extended: positions >= train_max_len are clamped to the last row, so
    at 512 or 1024 tokens every late position looks like position
    train_max_len - 1. (For a causal LM that row is the input of the last
    training position, whose prediction is never in the loss: see issue 15.)
    """

    theory = Theory(
        kind="absolute", where="added to the token embeddings", attention_cost="none",
        other_cost="O(T d) table lookup and addition once per forward pass",
        pros=("fits any positional pattern the task needs", "standard in BERT and GPT-2"),
        cons=("one d-sized row per training position (extra parameters)",
              "no rows past the training length: every later position reuses the last row"),
        mechanism=(
            "A trained row per position 0-{last} is added to the token embedding. There is nothing to look up past "
            "{last}; this project clamps later positions to row {last}, so every token after the {train}th carries "
            "the same position vector and position-based attention cannot tell those tokens apart. Content-based "
            "attention is unaffected."
        ),
    )

    def __init__(self, params, dims):
        super().__init__(params, dims)
        self.table = nn.Embedding(dims.train_max_len, dims.d_model)  # N(0, 1) init, the token embeddings' scale

    def embed(self, x, positions):
        return x + self.table(positions.clamp(max=self.table.num_embeddings - 1))  # (B, T, D) + (T, D)


PE = LearnedPE
