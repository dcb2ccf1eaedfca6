"""Do the other heads break ALiBi's copy past 256? Window them at evaluation to the distances training showed.

docs/study.md ("Where ALiBi's slips come from", bench/read_distance.py) found that after the re-spelling
curriculum ALiBi's copy head, at its slips past 256, gets nothing from content for the right key over the
query's own position (median content gap -0.23, where it is right 17.7): the match itself is gone, not
outweighed by the recency bias. The copy head's query and keys are built by the heads below it (and the
residual stream the heads beside it write to). Past the training length a head with a gentle slope spreads
weight over keys at distances training never showed (ALiBi's smallest slope for 4 heads, 1/256, costs a key
at distance 256 only one logit), so what it hands on can change with the length: the mechanism LM-Infinite
(Han et al. 2024, NAACL) names and removes with its Lambda-shaped mask (a window plus the first tokens). This tests
that reading with no retraining. At evaluation only, the heads a variant names get -inf at every distance
>= W (W: the longest training sequence by default, so they see exactly the distances training showed), and
the model is scored again. The copy head (analysis/probes.source_mass at the shortest evaluation length, as
read_distance.slip_attention finds it) keeps its full view: its answer lies n + 1 > W places back.

    none    nothing windowed: the model as trained
    below   every head of the layers below the copy head's
    beside  the other heads of the copy head's layer
    others  every head but the copy head

Per variant and length: token accuracy, exact match, the sequences it copies that the unwindowed model does
not and the reverse (exact McNemar test: scipy.stats.binomtest on the discordant sequences; one model, so a
claim about this model, not about its recipe), and the copy head's content gap (slip_attention). For the
unwindowed model at the longest length, every head's `far_mass`: the mean weight queries at positions >= W
give to keys at distances >= W (what windowing removes).

Trains the model exactly as bench/wrong_keys.py does (same sets, `--narrow` curriculum, `--checkpoint`; a
checkpoint kept by wrong_keys.py or read_distance.py is read here).

    python bench/window_heads.py alibi --narrow 0.5 10 --seed 0 --tag alibi_narrow50_k10_s0 --checkpoint /tmp/rd_an0.pt
    python bench/window_heads.py --table

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
from read_distance import slip_attention  # noqa: E402
from scipy.stats import binomtest  # noqa: E402
from time_to_accuracy import cpu_model  # noqa: E402
from wrong_keys import probe_splits, trained  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.engine.lm import score_sequences  # noqa: E402
from posenc.engine.runtime import resolve  # noqa: E402
from posenc.errors import ConfigError, DataError  # noqa: E402

VARIANTS = ("none", "below", "beside", "others")


@contextmanager
def windowed(model, heads: dict[int, list[int]], window: int):
    """Inside: the heads {layer: [head, ...]} score -inf at every distance >= `window` (the PE's own bias kept
    elsewhere); the model's PE is restored after. Works for any PE: one without a bias gets a zero one."""
    pe, plain = model.pe, model.pe.layer_biases
    H = model.spec.n_heads

    def layer_biases(q_positions, k_positions, n_layers):
        biases = plain(q_positions, k_positions, n_layers)
        if q_positions.dim() != 1:
            raise ConfigError("window_heads: one positions row per batch only (not a randomized PE's padded draw)")
        far = (q_positions[:, None] - k_positions[None, :]) >= window  # (Tq, Tk)
        out = []
        for layer, bias in enumerate(biases):
            hs = heads.get(layer, [])
            if not hs:
                out.append(bias)
                continue
            b = torch.zeros(H, *far.shape, device=far.device) if bias is None else bias.clone()  # (H, Tq, Tk)
            b[hs] = b[hs].masked_fill(far, -math.inf)
            out.append(b)
        return out

    pe.layer_biases = layer_biases  # an instance attribute shadows the class's method
    try:
        yield model
    finally:
        del pe.layer_biases


def variant_heads(variant: str, copy: tuple[int, int], n_layers: int, n_heads: int) -> dict[int, list[int]]:
    """{layer: heads} a variant windows, around the copy head (layer, head)."""
    every = list(range(n_heads))
    beside = {copy[0]: [h for h in every if h != copy[1]]}
    below = {layer: every for layer in range(copy[0])}
    above = {layer: every for layer in range(copy[0] + 1, n_layers)}
    table = {"none": {}, "below": below, "beside": beside, "others": {**below, **beside, **above}}
    if variant not in table:
        raise ConfigError(f"--variants: choose from {', '.join(VARIANTS)}, got {variant!r}")
    return table[variant]


@torch.no_grad()
def far_mass(model, sources: synthetic.Sources, task: str, vocab_size: int, size: int, window: int) -> list:
    """Per layer and head: the mean weight queries at positions >= window give to keys at distances >= window
    (the first `size` sequences, unwindowed)."""
    idx, _ = synthetic.make_batch([sources.get(i) for i in range(min(size, len(sources)))], task, vocab_size)
    _, weights = model(idx, need_weights=True)  # per layer (B, H, T, T)
    T = idx.shape[1]
    pos = torch.arange(T)
    far = ((pos[:, None] - pos[None, :]) >= window).double()  # (T, T)
    q = pos >= window
    return [[round(float((w[:, h].double() * far).sum(-1)[:, q].mean()), 4) for h in range(w.shape[1])]
            for w in weights]


def compare(base: np.ndarray, other: np.ndarray) -> dict:
    """Exact match per sequence, windowed against unwindowed: the discordant sequences and McNemar's exact p."""
    gained, lost = int(((other == 1) & (base < 1)).sum()), int(((other < 1) & (base == 1)).sum())
    p = binomtest(gained, gained + lost, 0.5).pvalue if gained + lost else 1.0
    return {"gained": gained, "lost": lost, "p_mcnemar": round(float(p), 6)}


def score_variants(model, splits, cfg, rt, variants: list[str], window: int, size: int) -> dict:
    """{L: {variant: scores}} for every evaluation length; the copy head found at the shortest and kept."""
    out, head, base = {}, None, {}
    for L in sorted(cfg.synthetic.eval_lengths):
        sources, out[str(L)] = splits[f"eval_{L}"], {}
        if head is None:
            a = slip_attention(model, sources, "copy", cfg.synthetic.vocab_size, size)
            head = (a["layer"], a["head"])
        for v in variants:
            with windowed(model, variant_heads(v, head, len(model.blocks), model.spec.n_heads), window):
                sc = score_sequences(model, sources, "copy", cfg, rt)
                a = slip_attention(model, sources, "copy", cfg.synthetic.vocab_size, size, head)
            base.setdefault(L, sc["exact"])
            r = {"token_acc": round(float(sc["right"].sum() / sc["targets"].sum()), 4),
                 "exact_match": round(float(sc["exact"].mean()), 4), **compare(base[L], sc["exact"]),
                 "content_gap": {k: a[k]["content_gap_median"] for k in ("right", "slips")}}
            out[str(L)][v] = r
            print(f"@{L} {v}: token {100 * r['token_acc']:.1f} % exact {100 * r['exact_match']:.1f} % "
                  f"(+{r['gained']} / -{r['lost']}, p {r['p_mcnemar']}); content gap {r['content_gap']}", flush=True)
    return {"copy_head": list(head), "lengths": out}


def table(out: Path) -> str:
    """The runs of `out` as markdown, one row per run and length: exact match (%) by variant."""
    doc = io.read_json(out)
    rows = ["| run (copy head) | length | " + " | ".join(f"{v}: exact % (+gained / -lost, p)" for v in VARIANTS)
            + " | content gap at slips / right, none -> others |", "|---" * (len(VARIANTS) + 3) + "|"]
    for tag, r in doc["runs"].items():
        for L, s in r["lengths"].items():
            cells = [f"{100 * s[v]['exact_match']:.1f} (+{s[v]['gained']} / -{s[v]['lost']}, {s[v]['p_mcnemar']:.2g})"
                     if v in s else "-" for v in VARIANTS]
            gap = " / ".join(f"{s[v]['content_gap']['slips']} / {s[v]['content_gap']['right']}"
                             for v in ("none", "others") if v in s)
            head = f"L{r['copy_head'][0]} H{r['copy_head'][1]}"
            rows.append(f"| {tag} ({head}) | {L} | " + " | ".join(cells) + f" | {gap} |")
    return "\n".join(rows)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pe", nargs="?")
    ap.add_argument("--tag")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", dest="items")
    ap.add_argument("--params", default="study/params.yaml")
    ap.add_argument("--narrow", nargs="+", type=float, default=None, metavar="SHARE K",
                    help="train with SHARE of the sequences over a random K-token alphabet each (as wrong_keys.py)")
    ap.add_argument("--checkpoint", default="", help="keep the trained model here (pickled; reused if present)")
    ap.add_argument("--window", type=int, default=0, help="W: distances >= W masked (0: synthetic.train_max_len)")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS),
                    help=f"from {', '.join(VARIANTS)}; none always runs")
    ap.add_argument("--attention-size", type=int, default=8, help="sequences a length for the attention probes")
    ap.add_argument("--out", default="bench/window_heads.json")
    ap.add_argument("--table", action="store_true", help="print the runs of --out as markdown; trains nothing")
    ap.set_defaults(task="copy", log_scale=False, first=None)  # what wrong_keys.trained reads besides these
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    if args.table:
        print(table(Path(args.out)))
        return
    if not args.pe or not args.tag:
        raise ConfigError("window_heads: a PE and --tag are needed (or --table)")
    variants = ["none"] + [v for v in args.variants if v != "none"]
    for v in variants:
        variant_heads(v, (0, 0), 1, 1)  # a wrong name fails here, before training
    cfg, done = changed(config.load(args.params), args.items)
    window = args.window or cfg.synthetic.train_max_len
    if window < 1:
        raise ConfigError(f"--window: a distance >= 1, got {window}")
    rt = resolve(cfg.runtime.dtype)
    splits = probe_splits(args, cfg)
    model = trained(args, cfg, splits, rt)
    run = score_variants(model, splits, cfg, rt, variants, window, args.attention_size)
    longest = max(cfg.synthetic.eval_lengths)
    run["far_mass"] = far_mass(model, splits[f"eval_{longest}"], "copy", cfg.synthetic.vocab_size,
                               args.attention_size, window)
    print(f"far mass @{longest} by layer and head: {run['far_mass']}")
    out = Path(args.out)
    old = io.read_json(out) if out.is_file() else {"runs": {}}
    old["runs"][args.tag] = {"pe": args.pe, "seed": args.seed, "set": done, "narrow": args.narrow, "window": window,
                             "dtype": rt.dtype, "cpu_model": cpu_model(), **run}
    io.write_json(out, old)


if __name__ == "__main__":
    try:
        main()
    except (ConfigError, DataError) as e:
        sys.exit(f"error: {e}")
