"""The T5 relative position bias (Raffel et al. 2020, section 2.1; their `_relative_position_bucket`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from posenc.nn.pe.base import PositionalEncoding, Theory, require


@dataclass(frozen=True)
class T5Params:
    num_buckets: int  # 32 in T5; split in two by direction for the bidirectional classifier
    max_distance: int  # distances >= this share the last bucket (T5: 128; here the training length, see below)


def relative_bucket(rel: torch.Tensor, causal: bool, num_buckets: int, max_distance: int) -> torch.Tensor:
    """Bucket of each relative position rel = k - q (Raffel et al. 2020).

    Bidirectional: half of the buckets for keys before the query, half for keys after. Causal: every
    bucket for n = max(q - k, 0) (later keys are masked anyway). Within a direction the first half of
    the buckets holds the distances 0..max_exact-1 exactly, the second half log-spaced distances up
    to max_distance; every farther distance falls in the last bucket.
    """
    buckets = torch.zeros_like(rel)
    if causal:
        n = (-rel).clamp(min=0)
    else:
        num_buckets //= 2
        buckets = buckets + (rel > 0).long() * num_buckets
        n = rel.abs()
    max_exact = num_buckets // 2
    # log-spaced part; clamp(min=1) only keeps log() finite where the exact part is used instead
    large = max_exact + (torch.log(n.clamp(min=1).float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).long()
    large = large.clamp(max=num_buckets - 1)
    return buckets + torch.where(n < max_exact, n, large)


class T5Bias(PositionalEncoding):
    """score(i, j) += b_h[bucket(j - i)]: one learned scalar per bucket and head, shared by all layers."""

    Params = T5Params
    theory = Theory(
        kind="relative", where="learned bias per distance bucket on the attention scores",
        attention_cost="O(H T^2) per forward (one bias shared by all layers)",
        other_cost="a bucket lookup of T^2 distances",
        pros=("learns its own shape of distance bias per head", "few parameters (buckets x heads)"),
        cons=("every distance past max_distance shares one bucket: long distances are indistinguishable",
              "the T x T bias is materialised as a float mask here"),
        mechanism=(
            "Each head adds a learned scalar for the bucket of the distance i - j (Raffel et al. 2020): "
            "{num_buckets} buckets, the first half exact distances, the rest log-spaced up to {max_distance}; "
            "every longer distance shares the last bucket. T5's own max distance (128) is about the copy "
            "offset at the training length, which would put the distance the copy task needs at the end of "
            "the resolved range; here it is the training length, so every training distance is resolved and "
            "every distance beyond training reuses the last, trained bucket. A distance beyond the training "
            "length then looks like the longest one seen, which can neither be told apart nor is new."
        ),
    )

    @classmethod
    def check(cls, params, dims, key):
        require(params.num_buckets >= 4, f"{key}.num_buckets", f"must be >= 4, got {params.num_buckets}")
        exact = params.num_buckets // (2 if dims.causal else 4)
        require(params.max_distance > exact, f"{key}.max_distance",
                f"must exceed the exactly-resolved distances ({exact}), got {params.max_distance}")

    @classmethod
    def theory_fill(cls, params, dims):
        return {"num_buckets": str(params.num_buckets), "max_distance": str(params.max_distance)}

    def __init__(self, params, dims):
        super().__init__(params, dims)
        self.bias = nn.Embedding(params.num_buckets, dims.n_heads)  # (buckets, H)
        nn.init.zeros_(self.bias.weight)  # starts as no position information at all

    def score_bias(self, q_positions, k_positions):
        rel = k_positions[None, :] - q_positions[:, None]  # (Tq, Tk)
        b = relative_bucket(rel, self.dims.causal, self.params.num_buckets, self.params.max_distance)
        return self.bias(b).permute(2, 0, 1)  # (H, Tq, Tk)


PE = T5Bias
