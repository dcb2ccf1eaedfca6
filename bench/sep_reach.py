"""What breaks ALiBi's copy past 256 after the curriculum: the heads around its copy head, or the separator's reach?

docs/study.md ("Where ALiBi's slips come from", bench/read_distance.py) found that after the re-spelling
curriculum ALiBi's copy head, at its slips past 256, gets nothing from content for the right key over the
query's own position (median content gap -0.23, where it is right 17.7): the match is gone, not outweighed
by the recency bias. This script asks what the copy head's query and keys lose, with interventions at
evaluation only (no retraining), each scored sequence by sequence against the model as trained (exact
McNemar test: scipy.stats.binomtest on the sequences one copies and the other does not; one model, so a
claim about this model, not its recipe):

    none    nothing changed: the model as trained
    below   every head of the layers below the copy head windowed: -inf at every distance >= W
    beside  the other heads of the copy head's layer windowed
    others  every head but the copy head windowed (below and beside together)
    sep     in the layers below the copy head, the separator (SEP, position n) charged no more than the
            bias of distance R by any query: SEP as near as the farthest copy query of training saw it

The windows test LM-Infinite's reading (Han et al. 2024, NAACL: a head that attends over more keys or longer
distances than training showed hands on something new; its Lambda-shaped mask is a window plus the first
tokens): with W the longest training sequence every head sees what training showed. The copy head keeps its
full view, its answer lying n + 1 > W back. `sep` tests the other reading: a copy query learns that it is in
the copy half from a head that finds SEP, and under ALiBi that head's weight on SEP falls as slope x k with
the copy index k; training shows k < n_max (127), so past some k the head loses SEP. Measured beside them:
the error rate by copy index k (bins EDGES), every head's weight on SEP by copy index (`sep_weight`), the
copy head's content gap (read_distance.slip_attention), and at the longest length every head's `far_mass`
(the weight queries at positions >= W give keys at distances >= W). The copy head is the one with the most
weight on the right source key at the shortest length (analysis/probes.source_mass), kept for the rest.

Trains the model exactly as bench/wrong_keys.py does (same sets, `--narrow` curriculum, `--checkpoint`; a
checkpoint kept by wrong_keys.py or read_distance.py is read here).

    python bench/sep_reach.py alibi --narrow 0.5 10 --seed 0 --tag alibi_narrow50_k10_s0 --checkpoint /tmp/rd_an0.pt
    python bench/sep_reach.py --table

Scoring takes a few minutes a model on a 2-core CPU (training 6-17). Nothing here writes to the pipeline's outputs.
"""

import argparse
import math
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from pe_sweep import changed  # noqa: E402
from read_distance import probe_parser, slip_attention  # noqa: E402
from scipy.stats import binomtest  # noqa: E402
from time_to_accuracy import cpu_model  # noqa: E402
from wrong_keys import probe_splits, trained  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.analysis.errors import recorded_predictions, targets_right  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.engine.lm import score_sequences  # noqa: E402
from posenc.engine.runtime import resolve  # noqa: E402
from posenc.errors import ConfigError, DataError  # noqa: E402

VARIANTS = ("none", "below", "beside", "others", "sep")
EDGES = (0, 1, 2, 4, 8, 16, 32, 64, 128, 160, 192, 256, 384, 512, 1024, 2048, 4096)  # copy index bins


def with_biases(model, change):
    """Context: model.pe.layer_biases(q, k, n_layers) returns change(its plain biases, q, k), restored after
    (an instance attribute shadows the class's method)."""
    pe, plain = model.pe, model.pe.layer_biases

    @contextmanager
    def ctx():
        def layer_biases(q_positions, k_positions, n_layers):
            if q_positions.dim() != 1:
                raise ConfigError("sep_reach: one positions row per batch only (not a randomized PE's padded draw)")
            return change(plain(q_positions, k_positions, n_layers), q_positions, k_positions)

        pe.layer_biases = layer_biases
        try:
            yield model
        finally:
            del pe.layer_biases

    return ctx()


def windowed(model, heads: dict[int, list[int]], window: int):
    """Context: the heads {layer: [head, ...]} score -inf at every distance >= `window` (the PE's own bias
    kept elsewhere). Any PE: one without a bias gets a zero one where a head is windowed."""
    H = model.spec.n_heads

    def change(biases, q_positions, k_positions):
        far = (q_positions[:, None] - k_positions[None, :]) >= window  # (Tq, Tk)
        out = []
        for layer, bias in enumerate(biases):
            hs = heads.get(layer, [])
            if hs:
                bias = torch.zeros(H, *far.shape, device=far.device) if bias is None else bias.clone()  # (H, Tq, Tk)
                bias[hs] = bias[hs].masked_fill(far, -math.inf)
            out.append(bias)
        return out

    return with_biases(model, change)


def sep_capped(model, layers: list[int], sep: int, reach: int):
    """Context: in `layers`, every query more than `reach` places after position `sep` gets on the key at `sep`
    the bias the query `reach` places after it gets (for ALiBi, whose bias is a function of the distance only:
    -slope x min(distance, reach)); every other bias unchanged. A layer without a bias is a one-line error."""

    def change(biases, q_positions, k_positions):
        out = list(biases)
        rows = torch.nonzero((q_positions - sep) > reach).flatten()  # queries past the reach
        col, ref = torch.nonzero(k_positions == sep).flatten(), torch.nonzero(q_positions == sep + reach).flatten()
        for layer in layers:
            if out[layer] is None:
                raise ConfigError(f"sep: layer {layer} has no score bias to cap (a PE without one)")
            if len(rows) and len(col) and len(ref):
                out[layer] = b = out[layer].clone()  # (H, Tq, Tk)
                b[:, rows, col[0]] = b[:, ref[0], col[0]][:, None]
        return out

    return with_biases(model, change)


def variant_heads(variant: str, copy: tuple[int, int], n_layers: int, n_heads: int) -> dict[int, list[int]]:
    """{layer: heads} a variant changes, around the copy head (layer, head)."""
    every = list(range(n_heads))
    beside = {copy[0]: [h for h in every if h != copy[1]]}
    below = {layer: every for layer in range(copy[0])}
    above = {layer: every for layer in range(copy[0] + 1, n_layers)}
    table = {"none": {}, "below": below, "beside": beside, "others": {**below, **beside, **above}, "sep": below}
    if variant not in table:
        raise ConfigError(f"--variants: choose from {', '.join(VARIANTS)}, got {variant!r}")
    return table[variant]


def intervention(model, variant: str, copy: tuple[int, int], n: int, window: int, reach: int):
    """The context a variant scores in (nothing changed for none)."""
    heads = variant_heads(variant, copy, len(model.blocks), model.spec.n_heads)
    if variant == "sep":
        return sep_capped(model, sorted(heads), n, reach)
    return windowed(model, heads, window)


def by_index(values: np.ndarray) -> dict[str, float]:
    """Means of (..., n) values over copy index bins EDGES (the last bin ends at n - 1)."""
    n = values.shape[-1]
    return {f"{a}-{min(b, n) - 1}": round(float(values[..., a:b].mean()), 4) for a, b in zip(EDGES, EDGES[1:]) if a < n}


@torch.no_grad()
def attention_of(model, sources: synthetic.Sources, vocab_size: int, size: int) -> list[torch.Tensor]:
    """Per layer, the (B, H, T, T) attention weights over the first `size` copy sequences."""
    idx, _ = synthetic.make_batch([sources.get(i) for i in range(min(size, len(sources)))], "copy", vocab_size)
    return model(idx, need_weights=True)[1]


def sep_weight(model, sources: synthetic.Sources, vocab_size: int, size: int) -> list:
    """Per layer and head: the mean weight copy queries (position n + k, k = 0 .. n - 1) put on SEP (position n),
    by copy index bin; the first `size` sequences."""
    n = int(sources.lengths[0])
    weights = attention_of(model, sources, vocab_size, size)  # per layer (B, H, T, T)
    return [[by_index(w[:, h, n: 2 * n, n].double().mean(0).numpy()) for h in range(w.shape[1])] for w in weights]


def far_mass(model, sources: synthetic.Sources, vocab_size: int, size: int, window: int) -> list:
    """Per layer and head: the mean weight queries at positions >= window give to keys at distances >= window
    (the first `size` sequences, unwindowed)."""
    weights = attention_of(model, sources, vocab_size, size)  # per layer (B, H, T, T)
    T = weights[0].shape[-1]
    pos = torch.arange(T)
    far = ((pos[:, None] - pos[None, :]) >= window).double()  # (T, T)
    q = pos >= window
    return [[round(float((w[:, h].double() * far).sum(-1)[:, q].mean()), 4) for h in range(w.shape[1])]
            for w in weights]


def compare(base: np.ndarray, other: np.ndarray) -> dict:
    """Exact match per sequence, changed against as trained: the discordant sequences and McNemar's exact p."""
    gained, lost = int(((other == 1) & (base < 1)).sum()), int(((other < 1) & (base == 1)).sum())
    p = binomtest(gained, gained + lost, 0.5).pvalue if gained + lost else 1.0  # as reporting/paired.mcnemar
    return {"gained": gained, "lost": lost, "p_mcnemar": float(f"{p:.3g}")}


def score_variants(model, splits, cfg, rt, variants: list[str], window: int, reach: int, size: int) -> dict:
    """{L: {variant: scores, "sep_weight": ...}} for every evaluation length; the copy head found at the shortest
    and kept."""
    out, head, V = {}, None, cfg.synthetic.vocab_size
    for L in sorted(cfg.synthetic.eval_lengths):
        sources = splits[f"eval_{L}"]
        n = int(sources.lengths[0])
        if head is None:
            a = slip_attention(model, sources, "copy", V, size)
            head = (a["layer"], a["head"])
        out[str(L)] = here = {"sep_weight": sep_weight(model, sources, V, size)}
        for v in variants:
            with intervention(model, v, head, n, window, reach):
                with recorded_predictions(model) as preds:
                    sc = score_sequences(model, sources, "copy", cfg, rt)
                a = slip_attention(model, sources, "copy", V, size, head)
            right = targets_right(preds, sources, "copy", V, cfg.evaluate.batch_size)  # (N, n)
            here[v] = r = {"token_acc": round(float(right.mean()), 4), "exact_match": round(float(sc["exact"].mean()), 4),
                           **compare(here["none"]["exact"] if v != "none" else sc["exact"], sc["exact"]),
                           "error_by_index": by_index(1 - right),
                           "content_gap": {k: a[k]["content_gap_median"] for k in ("right", "slips")}}
            r["exact"] = sc["exact"]
            print(f"@{L} {v}: token {100 * r['token_acc']:.1f} % exact {100 * r['exact_match']:.1f} % "
                  f"(+{r['gained']} / -{r['lost']}, p {r['p_mcnemar']}); error by copy index {r['error_by_index']}; "
                  f"content gap {r['content_gap']}", flush=True)
        for v in variants:
            del here[v]["exact"]
    return {"copy_head": list(head), "lengths": out}


def ordered(bins: dict) -> list[str]:
    """A by_index dict's keys in copy index order (io.write_json sorts them as text)."""
    return sorted(bins, key=lambda k: int(k.split("-")[0]))


def inside(bins: dict) -> float:
    """Mean SEP weight over the copy index bins from 16 to the training range's end (the head that finds SEP
    there: the first few copy queries see SEP through their local heads too)."""
    v = [w for k, w in bins.items() if 16 <= int(k.split("-")[0]) < 128]
    return sum(v) / len(v) if v else 0.0


def table(out: Path) -> str:
    """The runs of `out` as markdown, one row per run and length: exact match (%) by variant, and the error
    rate at the copy indices past the training range, as trained and with SEP's distance capped."""
    doc = io.read_json(out)
    rows = ["| run (copy head) | length | " + " | ".join(f"{v}: exact % (+gained / -lost, p)" for v in VARIANTS)
            + " | error % by copy index, none -> sep | weight on SEP by copy index, the head below the copy head that finds it |",
            "|---" * (len(VARIANTS) + 4) + "|"]
    for tag, r in doc["runs"].items():
        for L, s in sorted(r["lengths"].items(), key=lambda kv: int(kv[0])):  # write_json sorts keys as text
            cells = [f"{100 * s[v]['exact_match']:.1f} (+{s[v]['gained']} / -{s[v]['lost']}, {s[v]['p_mcnemar']:.2g})"
                     if v in s else "-" for v in VARIANTS]
            late = [k for k in ordered(s["none"]["error_by_index"]) if int(k.split("-")[0]) >= 128]
            err = "; ".join(f"{k}: {100 * s['none']['error_by_index'][k]:.1f}" + (
                f" -> {100 * s['sep']['error_by_index'][k]:.1f}" if "sep" in s else "") for k in late)
            lh = max(((li, h) for li, heads in enumerate(s["sep_weight"][: r["copy_head"][0]]) for h in range(len(heads))),
                     key=lambda x: inside(s["sep_weight"][x[0]][x[1]]), default=None)
            w = s["sep_weight"][lh[0]][lh[1]] if lh else {}
            sepw = f"L{lh[0]} H{lh[1]}: " + "; ".join(f"{k}: {w[k]:.2f}" for k in ordered(w)
                                                       if int(k.split("-")[0]) >= 64) if lh else "-"
            head = f"L{r['copy_head'][0]} H{r['copy_head'][1]}"
            rows.append(f"| {tag} ({head}) | {L} | " + " | ".join(cells) + f" | {err or '-'} | {sepw} |")
    return "\n".join(rows)


def parse_args() -> argparse.Namespace:
    ap = probe_parser(__doc__, "bench/sep_reach.json")
    ap.add_argument("--window", type=int, default=0, help="W: distances >= W masked (0: synthetic.train_max_len)")
    ap.add_argument("--reach", type=int, default=0,
                    help="R: SEP's distance capped at R (0: the largest copy index of training, n_max - 1)")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS),
                    help=f"from {', '.join(VARIANTS)}; none always runs")
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    if args.table:
        print(table(Path(args.out)))
        return
    if not args.pe or not args.tag:
        raise ConfigError("sep_reach: a PE and --tag are needed (or --table)")
    variants = ["none"] + [v for v in args.variants if v != "none"]
    for v in variants:
        variant_heads(v, (0, 0), 1, 1)  # a wrong name fails here, before training
    cfg, done = changed(config.load(args.params), args.items)
    window = args.window or cfg.synthetic.train_max_len
    reach = args.reach or synthetic.n_for_length("copy", cfg.synthetic.train_max_len) - 1
    if window < 1 or reach < 1:
        raise ConfigError(f"--window and --reach: distances >= 1, got {window} and {reach}")
    rt = resolve(cfg.runtime.dtype)
    splits = probe_splits(args, cfg)
    model = trained(args, cfg, splits, rt)
    run = score_variants(model, splits, cfg, rt, variants, window, reach, args.attention_size)
    longest = max(cfg.synthetic.eval_lengths)
    run["far_mass"] = far_mass(model, splits[f"eval_{longest}"], cfg.synthetic.vocab_size, args.attention_size, window)
    print(f"far mass @{longest} by layer and head: {run['far_mass']}")
    out = Path(args.out)
    old = io.read_json(out) if out.is_file() else {"runs": {}}
    old["runs"][args.tag] = {"pe": args.pe, "seed": args.seed, "set": done, "narrow": args.narrow, "window": window,
                             "reach": reach, "dtype": rt.dtype, "cpu_model": cpu_model(), **run}
    io.write_json(out, old)


if __name__ == "__main__":
    try:
        main()
    except (ConfigError, DataError) as e:
        sys.exit(f"error: {e}")
