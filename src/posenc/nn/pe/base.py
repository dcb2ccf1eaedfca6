"""The contract every positional encoding (PE) follows: three hooks, positions as input.

A PE may act in three places; each hook is the identity in this base class:

    embed(x, positions)                        add position information to token embeddings  (sinusoidal, learned)
    rotate(q, k, positions)                    rotate queries and keys after the head split  (RoPE)
    score_bias(q_positions, k_positions)       additive bias on attention scores, (H, Tq, Tk) (ALiBi)

(`layer_biases` hands that bias to every layer; a PE whose layers differ overrides it: hard_alibi_ngram.)

The model asks its PE for `positions` once per forward pass (`positions()`:
0..T-1, or offset..offset+T-1 for a probe; a randomized PE draws them, see
nn/pe/_randomized.py) and hands the same tensor, (T,) or (B, T), to every hook
and every layer; the bias is built once per forward and, unless the PE
overrides `layer_biases`, shared by all layers (see nn/backbone.py). A PE may
also declare a training curriculum (`distractors`, synthetic tasks only). A PE owns its hyperparameters: a
frozen dataclass `Params` filled from its own section `pe.<name>` of
params.yaml, and its prose for the report (`theory`). See docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from posenc import config
from posenc.errors import ConfigError


@dataclass(frozen=True)
class Dims:
    """What a PE may know about the model it sits in (never a hyperparameter of its own)."""

    d_model: int
    n_heads: int
    max_positions: int  # longest input the model accepts (size of fixed tables)
    train_max_len: int  # longest training input (size of a learned table)
    causal: bool = True  # a causal LM (keys j <= i) or a bidirectional classifier

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


@dataclass(frozen=True)
class NoParams:
    """A PE without hyperparameters: its params section is `{}`."""


@dataclass(frozen=True)
class Theory:
    """How a PE works, in the report's words. States no result: the report adds those from the numbers."""

    kind: str  # absolute / relative / none
    where: str  # where it acts (the hook it uses)
    attention_cost: str  # extra work per attention call, big-O (T tokens, d model width, H heads)
    other_cost: str  # extra work outside attention
    pros: tuple[str, ...]
    cons: tuple[str, ...]
    mechanism: str  # may use {train}, {last}, {longest_last} and the PE's own theory_fill() keys


class PositionalEncoding(nn.Module):
    """Base class of every PE. With no hook overridden it adds no position information at all."""

    Params: ClassVar[type] = NoParams
    theory: ClassVar[Theory]
    eval_variants: ClassVar[tuple[str, ...]] = ()  # evaluation-only variants of a trained model (RoPE: pi, ...)
    randomized: ClassVar[bool] = False  # positions drawn at random, so they depend on the length (_randomized.py)

    def __init__(self, params, dims: Dims):
        super().__init__()
        self.params, self.dims = params, dims

    @classmethod
    def parse_params(cls, section, key: str, dims: Dims | None = None):
        """params.yaml's pe.<name> -> cls.Params; unknown or missing keys and bad values are one-line errors."""
        params = config.build_section(cls.Params, {} if section is None else section, key)
        if dims is not None:
            cls.check(params, dims, key)
        return params

    @classmethod
    def check(cls, params, dims: Dims, key: str) -> None:
        """Cross-checks of the PE's params against the model's shape; raise ConfigError naming `key`."""

    @classmethod
    def theory_fill(cls, params, dims: Dims) -> dict[str, str]:
        """Values for the PE's own placeholders in theory.mechanism (derived from params, never a result)."""
        return {}

    def set_variant(self, variant: str | None, scale: float) -> None:
        """Evaluate as one of `eval_variants`, for inputs `scale` = L / train_max_len times longer than in
        training (None: the PE as trained). No retraining: only how positions are read changes."""
        if variant is not None:
            raise ConfigError(f"{type(self).__name__} has no evaluation variant {variant!r}")

    def positions(self, T: int, offset: int, lengths: torch.Tensor | None, seed: int | None,
                  device) -> torch.Tensor:
        """The positions every hook sees: (T,) = offset..offset+T-1 here. A randomized PE draws them, from
        the real `lengths` (B,) when the batch is padded, with torch's global generator when `seed` is None
        (training) and a generator seeded with `seed` otherwise (evaluation)."""
        return torch.arange(offset, offset + T, device=device)

    def embed(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """x: (B, T, D) token embeddings, positions: (T,) or (B, T) -> (B, T, D) with position information added."""
        return x

    def rotate(self, q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor):
        """q, k: (B, H, T, Dh); positions: (T,) or (B, T) -> rotated (q, k)."""
        return q, k

    def score_bias(self, q_positions: torch.Tensor, k_positions: torch.Tensor) -> torch.Tensor | None:
        """(H, Tq, Tk) bias added to QK^T / sqrt(Dh) (one per forward, shared by all layers), or None."""
        return None

    def layer_biases(self, q_positions: torch.Tensor, k_positions: torch.Tensor, n_layers: int) -> list:
        """One score bias per layer, (H, Tq, Tk) or None each. Here the one score_bias, the same object for
        every layer (the backbone then builds one mask); a PE whose layers see different biases overrides it."""
        return [self.score_bias(q_positions, k_positions)] * n_layers

    @classmethod
    def distractors(cls, params) -> tuple[float, tuple[int, ...]]:
        """A training curriculum the PE's variant trains with on the synthetic tasks: (share, alphabet sizes),
        the share of training sequences re-spelt over a small random alphabet each (data/synthetic.narrowed).
        (0.0, ()) here: no PE but one that declares it changes the shared training data."""
        return 0.0, ()


def check_even_head(dims: Dims, name: str) -> None:
    """For PEs that rotate pairs of head dimensions."""
    if dims.head_dim % 2:
        raise ConfigError(f"model.d_model: head size d_model/n_heads = {dims.head_dim} must be even for {name} "
                          "(it rotates pairs of dimensions)")


def require(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {msg}")
