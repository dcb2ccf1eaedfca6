"""Hard-ALiBi (Jelassi et al. 2024, "Repeat After Me: Transformers are Better than State Space Models at Copying")."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from posenc.nn.pe.base import PositionalEncoding, Theory, require


@dataclass(frozen=True)
class HardAlibiParams:
    windows: tuple[int, ...]  # one window per windowed head (heads 0, 1, ...); the other heads get no bias


def head_windows(windows, n_heads: int) -> torch.Tensor:
    """(H,): head h's window for h < len(windows), inf (no window) for the other heads."""
    w = torch.full((n_heads,), float("inf"))
    w[: len(windows)] = torch.tensor(windows, dtype=torch.float32)
    return w


class HardAlibi(PositionalEncoding):
    """Head h < len(windows) sees only the windows[h] most recent tokens (itself included): a hard mask
    (-inf beyond the window) instead of ALiBi's linear penalty; the other heads get no position bias.

    Bidirectional form (the IMDb classifier): a symmetric window |i - j| < w, since a review has no
    "recent" side; the windowed heads then read a local neighbourhood, the others the whole review.
    """

    Params = HardAlibiParams
    theory = Theory(
        kind="relative", where="hard window mask on some heads' attention scores",
        attention_cost="O(H T^2) per forward (one mask shared by all layers)", other_cost="none",
        pros=("no parameters", "local heads never see a distance they were not trained on"),
        cons=("windowed heads cannot read far tokens", "the other heads carry no position signal at all"),
        mechanism=(
            "The first heads see only a window of the most recent tokens ({windows} tokens, itself included), "
            "and the remaining heads have no position bias at all (Jelassi et al. 2024). A windowed head hands "
            "each position a summary of the tokens just before it, so an unwindowed head of the next layer can "
            "find where the current few tokens occurred earlier and read what followed: a copy by n-gram lookup, "
            "the mechanism Jelassi et al. construct, whose n grows with the windows. Nothing in a windowed head "
            "changes with the length of the input; the unwindowed heads rely on content and on the causal mask "
            "alone, as NoPE does, so past the training length they meet more keys competing in the softmax and "
            "whatever position the causal mask lets them infer."
        ),
    )

    @classmethod
    def check(cls, params, dims, key):
        require(0 < len(params.windows) <= dims.n_heads, f"{key}.windows",
                f"must list 1 to model.n_heads ({dims.n_heads}) windows, got {len(params.windows)}")
        require(min(params.windows) >= 1, f"{key}.windows", f"every window must be >= 1, got {list(params.windows)}")

    @classmethod
    def theory_fill(cls, params, dims):
        return {"windows": ", ".join(map(str, params.windows))}

    def __init__(self, params, dims):
        super().__init__(params, dims)
        self.register_buffer("windows", head_windows(params.windows, dims.n_heads), persistent=False)

    def score_bias(self, q_positions, k_positions):
        return self.window_bias(self.windows, q_positions, k_positions)

    def window_bias(self, windows: torch.Tensor, q_positions, k_positions) -> torch.Tensor:
        """(H, Tq, Tk): 0 inside each head's window (windows (H,), inf = none), -inf outside."""
        dist = (q_positions[:, None] - k_positions[None, :]).float()  # (Tq, Tk), > 0 for earlier keys
        dist = dist if self.dims.causal else dist.abs()  # causal: later keys are masked anyway
        outside = dist[None] >= windows[:, None, None]  # (H, Tq, Tk)
        return torch.zeros(outside.shape, device=dist.device).masked_fill(outside, float("-inf"))


PE = HardAlibi
