"""The IMDb attention figure (issue 15): what each classifier attends to on whole validation reviews.

It shows review text (token labels), so it is written to reviews/, a DVC-cached output that git never
sees, and only ever built from the local archive. The reviews are picked by a rule in code
(analysis/probes_imdb.pick_reviews), per classifier: its most clearly positive, most clearly negative
and most ambiguous review at the training length, and the longest review read whole at the longest
evaluation length.
"""

from __future__ import annotations

import numpy as np

from posenc.reporting.plots import pe_colors, plt

PICKS = ("positive", "negative", "ambiguous", "long")


def token_labels(tokenizer, ids: np.ndarray) -> list[str]:
    """Each token as text (BPE pieces, leading spaces dropped), for tick labels."""
    return [tokenizer.decode([int(i)]).strip() or "·" for i in ids]


def _cell(fig, spec, pe: str, name: str, info: dict, arrays: dict, tokenizer, color) -> None:
    start, window = int(arrays[f"{name}_start"]), arrays[f"{name}_window"]
    W = window.shape[0]
    mass = arrays[f"{name}_mass"][start : start + W]
    words = token_labels(tokenizer, arrays[f"{name}_ids"][start : start + W])
    top, low = fig.add_subfigure(spec).subplots(2, 1, height_ratios=[1, 4], sharex=True)
    top.bar(np.arange(W), mass, color=color)
    top.set(ylabel="mass", xlim=(-0.5, W - 0.5))
    label = "positive" if info["label"] == 1 else "negative"
    top.set_title(f"{pe}: {name} review ({label}, P(positive) {info['p_positive']:.2f})\n"
                  f"{info['length']} tokens, read at {info['read_at']}; tokens {start}-{start + W - 1}", fontsize=8)
    low.imshow(window, cmap="rocket_r", interpolation="nearest", aspect="auto")
    low.set_xticks(np.arange(W), words, rotation=90, fontsize=6)
    low.set_yticks(np.arange(W), words, fontsize=6)
    low.set(xlabel="key token", ylabel="query token")
    low.grid(False)
    top.grid(False)


def imdb_attention(reviews: dict[str, dict], arrays: dict[str, dict], pes: list[str], tokenizer):
    """Rows: PEs; columns: the four picked reviews. Each cell: the last layer's attention, pooled over
    heads, among the tokens around where it concentrates, with the mass each token receives above."""
    fig = plt.figure(figsize=(5.5 * len(PICKS), 6.5 * len(pes)), layout="constrained")
    grid = fig.add_gridspec(len(pes), len(PICKS))
    colors = pe_colors()
    for r, pe in enumerate(pes):
        for c, name in enumerate(PICKS):
            _cell(fig, grid[r, c], pe, name, reviews[pe][name], arrays[pe], tokenizer, colors[pe])
    fig.suptitle("IMDb: last-layer attention (mean over heads) on whole validation reviews, per classifier")
    return fig
