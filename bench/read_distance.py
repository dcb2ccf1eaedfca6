"""How far back does a copy model read when it slips? The distance profile of its wrong tokens.

docs/study.md ("The curriculum does not help ALiBi") reads ALiBi's slips at 1,024 after the re-spelling
curriculum as reads from the wrong place, not content confusions (their keys share no token with the
query as often as a blind pick's do, bench/wrong_keys.py), and guesses why: a PE that can also copy by
distance leans on distance, and the distance it learned is the one training showed it. That guess makes
a prediction this script measures. In teacher-forced copy the target at position p (the token the query
at p - 1 predicts) stands n + 1 places after its source; at 256 tokens n + 1 = 128, at 1,024 it is 512.
A model that reads at a learned distance D says the token D places back, so its wrong tokens stand at
distance D from the target more often than chance, whatever the length.

For every wrong target at position p and every distance d = 1 .. p, hits[d] counts the slips whose
predicted token stands at p - d, and null[d] the same for a content token picked blindly (not the target,
not the prediction: (1 if the token at p - d is such a token) / (vocabulary - 2)). Their difference per
slip, the excess, is zero everywhere for a slip that reads from nowhere in particular; a read at one
distance puts a peak there (near misses put theirs at n + 1 +- 1). Reported: the distances with the most
excess, and the excess summed over three ranges: the right distance n + 1 +- 2, distances up to the
training length (seen in training), and the rest. A token the copy has already said stands twice, in the
source and in the copy n + 1 places later, so a read at distance d > n + 1 also shows at d - (n + 1): a
peak comes with its echo. Where the copy head looks tells the two apart (slip_attention, the first 8
sequences of each length): on the right source key, one behind it (the query's own token), one ahead, or
elsewhere (in the copy half, how far back); and its content gap (content_gap): its score on the right key
over its score on the query's own position, less the PE's bias for the two.

Trains the model exactly as bench/wrong_keys.py does (same sets, same `--narrow` curriculum, same
`--checkpoint` reuse: a checkpoint kept by one is read by the other), then scores the evaluation sets
with the pipeline's scoring and reads its predictions.

    python bench/read_distance.py alibi --narrow 0.5 10 --seed 0 --tag alibi_narrow_s0 --checkpoint /tmp/rd_an0.pt
    python bench/read_distance.py alibi --seed 0 --tag alibi_s0                  # the plain recipe, the control
    python bench/read_distance.py --table                                       # the runs as markdown

About 9-17 minutes a model on a 2-core CPU; scoring a few minutes more. Nothing here writes to the
pipeline's outputs.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from pe_sweep import changed  # noqa: E402
from time_to_accuracy import cpu_model  # noqa: E402
from wrong_keys import probe_splits, trained  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.analysis.errors import recorded_predictions  # noqa: E402
from posenc.analysis.probes import source_mass  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.engine.lm import score_sequences  # noqa: E402
from posenc.engine.runtime import resolve  # noqa: E402
from posenc.errors import ConfigError, DataError  # noqa: E402

TOP = 8  # distances reported by excess
NEAR = 2  # the right distance n + 1 +- NEAR counts as a near miss


def slip_profile(seq: np.ndarray, p: int, pred: int, target: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(hits, null), each (p + 1,) indexed by distance d (index 0 unused): whether the token at p - d is `pred`,
    and the chance a blindly picked content token other than `target` and `pred` is the one there."""
    back = seq[:p][::-1]  # back[d - 1] is the token at p - d
    hits, null = np.zeros(p + 1), np.zeros(p + 1)
    hits[1:] = back == pred
    null[1:] = ((back < vocab_size) & (back != target) & (back != pred)) / (vocab_size - 2)
    return hits, null


def profile_length(model, sources: synthetic.Sources, task: str, cfg: config.Config, rt) -> dict:
    """One evaluation length: every wrong target's distance profile summed (excess = hits - null, per slip)."""
    V, L = cfg.synthetic.vocab_size, int(synthetic.total_length(task, int(sources.lengths.max())))
    with recorded_predictions(model) as preds:
        sc = score_sequences(model, sources, task, cfg, rt)
    hits, null = np.zeros(L + 1), np.zeros(L + 1)
    slips, not_content, row, right = 0, 0, 0, set()
    for pr_b, (idx, labels) in zip(preds, synthetic.fixed_batches(sources, task, V, cfg.evaluate.batch_size)):
        for b in range(idx.shape[0]):
            seq, lab, pr = idx[b].numpy(), labels[b].numpy(), pr_b[b].numpy()
            right.add(int(sources.lengths[row]) + 1)
            for t in np.flatnonzero((lab != synthetic.IGNORE) & (pr != lab)):
                slips += 1
                if pr[t] >= V:  # SEP or PAD said: stands nowhere as content
                    not_content += 1
                    continue
                h, z = slip_profile(seq, int(t) + 1, int(pr[t]), int(lab[t]), V)
                hits[: len(h)] += h
                null[: len(z)] += z
            row += 1
    if len(right) != 1:
        raise DataError(f"read_distance: sequences of one evaluation length have source lengths {sorted(right)}")
    return summarize(hits, null, slips, not_content, right.pop(), cfg.synthetic.train_max_len,
                     {"token_acc": int(sc["right"].sum()) / int(sc["targets"].sum()), "exact_match": float(sc["exact"].mean())})


@torch.no_grad()
def content_gap(model, rows: torch.Tensor, t: torch.Tensor, n: int, head: tuple[int, int]) -> torch.Tensor | None:
    """(B, n - 1): the copy head's score on the right key t - n minus its score on the query's own position t,
    less the PE's bias for the two (score_bias; layer_biases for a PE whose layers differ): what the content
    (q . k / sqrt(d)) alone gives the right key over the query itself. Softmax weights share one normaliser,
    so a score difference is the log of a weight ratio. A PE without a bias (RoPE, NoPE) adds nothing to take
    away; None for a model without a PE to ask (a test's stand-in)."""
    if not hasattr(model, "pe"):
        return None
    pos = torch.arange(rows.shape[-1])
    i = torch.arange(len(t))
    logw = rows.clamp_min(1e-300).log()
    gap = logw[:, i, t - n] - logw[:, i, t]
    bias = (model.pe.layer_biases(pos, pos, len(model.blocks)) or [None] * len(model.blocks))[head[0]]
    if bias is None:
        return gap
    bias = bias[head[1]].double()  # (T, T)
    return gap - (bias[t, t - n] - bias[t, t])


@torch.no_grad()
def slip_attention(model, sources: synthetic.Sources, task: str, vocab_size: int, size: int,
                   head: tuple[int, int] | None = None) -> dict:
    """Where the copy head looks at the slips and at the right predictions of the first `size` sequences: its
    mean weight on the right key t - n, the key one behind (t - n - 1: the query's own token, in the source)
    and one ahead, the share of queries whose largest weight is on each, and where that largest weight is
    otherwise: the share of queries with it in the copy half (after SEP), and its median distance back. `head` (layer, head): the copy
    head, by default the one with the most weight on t - n here (analysis/probes.source_mass)."""
    n = int(sources.lengths[0])
    idx, labels = synthetic.make_batch([sources.get(i) for i in range(min(size, len(sources)))], task, vocab_size)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    logits, weights = model(idx.to(device), need_weights=True)  # per layer (B, H, T, T)
    logits, weights, labels = logits.cpu(), [w.cpu() for w in weights], labels
    if head is None:
        mass = source_mass([w.float() for w in weights], n)
        head = max(((i, h) for i, row in enumerate(mass) for h in range(len(row))), key=lambda lh: mass[lh[0]][lh[1]])
    w = weights[head[0]][:, head[1]].double()  # (B, T, T)
    t = torch.arange(n + 1, 2 * n)  # queries of targets k >= 1, so that the key one behind exists
    rows = w[:, t]  # (B, n - 1, T)
    at = {d: rows[:, torch.arange(len(t)), t - n + d] for d in (-1, 0, 1)}  # (B, n - 1) each
    key = rows.argmax(-1)  # (B, n - 1): the key with the largest weight
    top = key - (t - n)  # from the right one
    wrong = logits.argmax(-1)[:, t] != labels[:, t]
    gap = content_gap(model, rows, t, n, head)  # (B, n - 1)
    out = {"layer": head[0], "head": head[1]}
    for name, mask in (("slips", wrong), ("right", ~wrong)):
        k = int(mask.sum())
        out[name] = {"count": k, **{f"w_{x}": round(float(at[d][mask].mean()), 4) if k else None
                                     for d, x in ((-1, "behind"), (0, "right"), (1, "ahead"))},
                     "top": {x: round(float((top[mask] == d).double().mean()), 4) if k else None
                             for d, x in ((-1, "behind"), (0, "right"), (1, "ahead"))},
                     "top_in_copy_half": round(float((key[mask] > n).double().mean()), 4) if k else None,
                     "top_distance_median": float((t - key)[mask].median()) if k else None,
                     "content_gap_median": round(float(gap[mask].median()), 3) if k and gap is not None else None}
    return out


def summarize(hits: np.ndarray, null: np.ndarray, slips: int, not_content: int, right: int, trained_to: int,
              scores: dict) -> dict:
    """The profile's summary: top distances by excess per slip, and the excess per slip over three ranges."""
    per = max(slips - not_content, 1)
    excess = (hits - null) / per
    d = np.arange(len(excess))
    near = np.abs(d - right) <= NEAR
    seen = (d >= 1) & (d < trained_to) & ~near
    top = np.argsort(-excess[1:], kind="stable")[:TOP] + 1
    return {**scores, "slips": slips, "not_content": not_content, "right_distance": right,
            "top": [{"d": int(i), "excess": round(float(excess[i]), 4), "hits": round(float(hits[i] / per), 4),
                     "null": round(float(null[i] / per), 4)} for i in top],
            "excess_near_right": round(float(excess[near].sum()), 4),
            "excess_seen": round(float(excess[seen].sum()), 4),
            "excess_beyond": round(float(excess[(d >= trained_to) & ~near].sum()), 4)}


def looks(attention: dict | None) -> str:
    """slip_attention's argmax shares as 'behind / right / ahead' in %, at slips; at right predictions."""
    if not attention:
        return ""
    part = [" / ".join("-" if (v := attention[k]["top"][x]) is None else f"{100 * v:.0f}" for x in ("behind", "right", "ahead"))
            + f" (of {attention[k]['count']}" + (f"; largest weight {100 * attention[k]['top_in_copy_half']:.0f} % in the copy "
                                                  f"half, median {attention[k]['top_distance_median']:.0f} back; "
                                                  f"content gap median {attention[k].get('content_gap_median')}"
                                                  if attention[k].get("top_in_copy_half") is not None else "") + ")"
            for k in ("slips", "right")]
    return f"L{attention['layer']} H{attention['head']}: " + "; ".join(part)


def table(out: Path) -> str:
    """The runs of `out` as markdown, one row per run and length."""
    doc = io.read_json(out)
    rows = ["| run | length | token acc / exact (%) | slips | right distance | most excess at d (excess / hits / null per slip) "
            "| excess near right / seen / beyond | copy head's largest weight one behind / on / one ahead of the right key "
            "(%), at slips; at right predictions (where the largest weight is; the right key's content score over the query's own) |", "|---|---|---|---|---|---|---|---|"]
    for tag, r in doc["runs"].items():
        for L, s in r["lengths"].items():
            top = ", ".join(f"{x['d']} ({x['excess']:.3f} / {x['hits']:.3f} / {x['null']:.3f})" for x in s["top"][:3])
            rows.append(f"| {tag} | {L} | {100 * s['token_acc']:.1f} / {100 * s['exact_match']:.1f} | {s['slips']} "
                        f"| {s['right_distance']} | {top} | {s['excess_near_right']:.3f} / {s['excess_seen']:.3f} / "
                        f"{s['excess_beyond']:.3f} | {looks(s.get('attention'))} |")
    return "\n".join(rows)


def probe_parser(doc: str, out: str) -> argparse.ArgumentParser:
    """The options of a copy probe that trains as wrong_keys.py does (bench/sep_reach.py's too): the run, the
    recipe, the curriculum, the checkpoint, the attention sample, the output and --table."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pe", nargs="?")
    ap.add_argument("--tag")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", dest="items")
    ap.add_argument("--params", default="study/params.yaml")
    ap.add_argument("--narrow", nargs="+", type=float, default=None, metavar="SHARE K",
                    help="train with SHARE of the sequences over a random K-token alphabet each (as wrong_keys.py)")
    ap.add_argument("--checkpoint", default="", help="keep the trained model here (pickled; reused if present)")
    ap.add_argument("--attention-size", type=int, default=8, help="sequences a length for the attention probes")
    ap.add_argument("--out", default=out)
    ap.add_argument("--table", action="store_true", help="print the runs of --out as markdown; trains nothing")
    ap.set_defaults(task="copy", log_scale=False, first=None)  # what wrong_keys.trained reads besides these
    return ap


def parse_args() -> argparse.Namespace:
    return probe_parser(__doc__, "bench/read_distance.json").parse_args()


def main() -> None:
    args = parse_args()
    if args.table:
        print(table(Path(args.out)))
        return
    if not args.pe or not args.tag:
        raise ConfigError("read_distance: a PE and --tag are needed (or --table)")
    cfg, done = changed(config.load(args.params), args.items)
    rt = resolve(cfg.runtime.dtype)
    splits = probe_splits(args, cfg)
    loaded = bool(args.checkpoint) and Path(args.checkpoint).is_file()
    start = time.perf_counter()
    model = trained(args, cfg, splits, rt)
    wall = None if loaded else round(time.perf_counter() - start, 1)  # None: read from --checkpoint
    lengths, head = {}, None
    for L in sorted(cfg.synthetic.eval_lengths):  # the copy head is chosen at the shortest, kept for the rest
        lengths[str(L)] = r = profile_length(model, splits[f"eval_{L}"], args.task, cfg, rt)
        r["attention"] = a = slip_attention(model, splits[f"eval_{L}"], args.task, cfg.synthetic.vocab_size,
                                            args.attention_size, head)
        head = (a["layer"], a["head"])
        print(f"@{L}: exact {100 * r['exact_match']:.1f} %, {r['slips']} slips, right distance {r['right_distance']}; "
              f"most excess at {[(x['d'], x['excess']) for x in r['top'][:4]]}; excess near right / seen / beyond "
              f"{r['excess_near_right']} / {r['excess_seen']} / {r['excess_beyond']}; copy head {a}", flush=True)
    out = Path(args.out)
    old = io.read_json(out) if out.is_file() else {"runs": {}}
    old["runs"][args.tag] = {"pe": args.pe, "task": args.task, "seed": args.seed, "set": done, "narrow": args.narrow,
                             "dtype": rt.dtype, "cpu_model": cpu_model(), "model_wall_s": wall,
                             "lengths": lengths}
    io.write_json(out, old)


if __name__ == "__main__":
    try:
        main()
    except (ConfigError, DataError) as e:
        sys.exit(f"error: {e}")
