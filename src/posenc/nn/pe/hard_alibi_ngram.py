"""Hard-ALiBi with an all-local first layer and a curriculum of hard distractors: hard_alibi made to copy
by a four-token lookup (this project's remedy, built on Jelassi et al. 2024, "Repeat After Me")."""

from __future__ import annotations

from dataclasses import dataclass

from posenc.nn.pe.base import Theory, require
from posenc.nn.pe.hard_alibi import HardAlibi, head_windows


@dataclass(frozen=True)
class HardAlibiNgramParams:
    first_windows: tuple[int, ...]  # layer 0: one window per windowed head (all heads: a layer of local summaries)
    windows: tuple[int, ...]  # every later layer, as hard_alibi's windows; the other heads get no bias
    distractor_share: float  # share of the training sequences re-spelt over a small alphabet (0: none)
    distractor_alphabets: tuple[int, ...]  # the alphabet sizes one is drawn from per re-spelt sequence


class HardAlibiNgram(HardAlibi):
    """Layer 0 has windows `first_windows`, every later layer `windows`; trained on the synthetic tasks
    with `distractor_share` of the sequences re-spelt over a `distractor_alphabets`-token alphabet.

    Why both (measured in bench/wrong_keys.py and bench/layer0_windows.py, docs/study.md "Why the study's windows
    stop at three tokens"): in two layers the copy is layer 1's global head finding where the last few tokens
    occurred before, and a window of w tokens hands that lookup a key of w - 1 tokens of context. hard_alibi's
    [2, 3, 4] therefore matches at most three tokens, and over 100 symbols a three-token key meets a wrong
    match often enough at 1024 that exact match falls. Windowing all of layer 0 ([2, 3, 4, 5]) makes a
    four-token key possible, and the small alphabets are what make the model use it: over the full
    vocabulary a two- or three-token key is almost always unique at 256, so training never asks for more.
    Bidirectional form (IMDb): hard_alibi's symmetric windows, per layer; the curriculum is synthetic only.
    """

    Params = HardAlibiNgramParams
    theory = Theory(
        kind="relative", where="hard window masks on attention scores, one set per layer; a training curriculum",
        attention_cost="O(L H T^2) per forward (one mask per distinct layer)", other_cost="none",
        pros=("no parameters", "a longer n-gram key than hard_alibi, so fewer wrong matches far out"),
        cons=("changes the training data as well (a curriculum)", "fewer heads that can read far tokens"),
        mechanism=(
            "Layer 0's heads all see a window of the most recent tokens ({first_windows} tokens), the later "
            "layers' first heads too ({windows}) and their other heads no position bias, so the last layer's "
            "unwindowed head can find where the current {key} tokens occurred before and read what followed: "
            "the n-gram lookup of Jelassi et al. 2024 with n = {key} (a window of w tokens gives a key of w - 1), "
            "where the same windows in every layer give {short}. "
            "A share of {share} of the training sequences is re-spelt over a random alphabet of {alphabets} "
            "tokens, whose repeated short n-grams are the wrong keys a short lookup slips on; the evaluation "
            "sets are unchanged. Nothing in the windowed heads changes with length; the unwindowed head meets "
            "more competing keys past the training length, as in hard_alibi."
        ),
    )

    @classmethod
    def check(cls, params, dims, key):
        super().check(params, dims, key)
        require(0 < len(params.first_windows) <= dims.n_heads, f"{key}.first_windows",
                f"must list 1 to model.n_heads ({dims.n_heads}) windows, got {len(params.first_windows)}")
        require(min(params.first_windows) >= 1, f"{key}.first_windows",
                f"every window must be >= 1, got {list(params.first_windows)}")
        require(0.0 <= params.distractor_share <= 1.0, f"{key}.distractor_share",
                f"must be in [0, 1], got {params.distractor_share}")
        require(params.distractor_share == 0 or len(params.distractor_alphabets) > 0, f"{key}.distractor_alphabets",
                "needs at least one alphabet size when distractor_share > 0")
        require(all(k >= 2 for k in params.distractor_alphabets), f"{key}.distractor_alphabets",
                f"every size must be >= 2, got {list(params.distractor_alphabets)}")

    @classmethod
    def theory_fill(cls, params, dims):
        return {"first_windows": ", ".join(map(str, params.first_windows)),
                "windows": ", ".join(map(str, params.windows)), "share": f"{params.distractor_share:g}",
                "alphabets": " or ".join(map(str, params.distractor_alphabets)) or "(none)",
                "key": str(max(params.first_windows) - 1), "short": str(max(params.windows) - 1)}

    @classmethod
    def distractors(cls, params) -> tuple[float, tuple[int, ...]]:
        return params.distractor_share, tuple(params.distractor_alphabets)

    def __init__(self, params, dims):
        super().__init__(params, dims)
        self.register_buffer("first_windows", head_windows(params.first_windows, dims.n_heads),
                             persistent=False)  # (H,), inf = no window

    def layer_biases(self, q_positions, k_positions, n_layers):
        later = self.score_bias(q_positions, k_positions)  # (H, Tq, Tk): hard_alibi's, shared by layers 1..
        return [self.window_bias(self.first_windows, q_positions, k_positions)] + [later] * (n_layers - 1)


PE = HardAlibiNgram
