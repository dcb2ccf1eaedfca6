"""The report's lines on IMDb attention over whole reviews (stage probe_imdb's review maps): numbers only,
since the figure with the words (reviews/imdb_attention.png) shows review text and stays out of git."""

from __future__ import annotations


def review_lines(inp) -> list[str]:  # inp: report.Inputs
    """Where each classifier looks on whole reviews (stage probe_imdb's review maps; numbers only here: the
    figure with the words is reviews/imdb_attention.png, kept out of git because it shows review text)."""
    maps = {pe: inp.probes[f"imdb_{pe}"].get("review_maps") for pe in inp.cfg.pes if f"imdb_{pe}" in inp.probes}
    if not maps or not all(maps.values()):
        return []
    lines = ["", "Attention on whole validation reviews, per classifier: its most clearly positive, most clearly "
             "negative and most ambiguous review at the training length, and the longest review read whole "
             "(the rule is in analysis/probes_imdb.py). The figure with the words, `reviews/imdb_attention.png`, "
             "is built by `dvc repro` from your copy of the archive and kept out of git, since it shows review "
             "text. Where the last layer's attention mass peaks (position of the top token / review length):", ""]
    for pe, m in maps.items():
        parts = [f"{name} {r['top_token_position']}/{min(r['length'], r['read_at'])} (P(positive) "
                 f"{r['p_positive']:.2f})" for name, r in m.items()]
        lines.append(f"- {pe}: " + "; ".join(parts) + ".")
    return lines
