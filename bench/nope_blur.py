"""Where NoPE's copy goes wrong: a neighbour of the right source token, or anywhere? (docs/recipe.md, NoPE)

docs/recipe.md reads NoPE's failure to copy 31 tokens (bench/nope_short.json) as a position signal that
blurs with the distance from the sequence's start and from SEP: its first target is always right, its
worst target sits well inside the copy. A model without positions knows where it is only through the
causal mask (Kazemnejad et al. 2023), so that reading makes two predictions this script measures:

    offsets   a wrong target is a near miss: the token it predicts stands in the source one or two places
              from the right one (offset d = j - k for the source position j nearest the right one, k,
              holding the predicted token; "none" when the source does not hold it). The null is the same
              offset for every other token the model could have said instead (not the target, not the
              prediction): a wrong token picked blindly, which with 100 tokens is mostly "none".
    attention the copy head's weight (the head, over every layer, with the most weight on the right source
              key t - n, analysis/probes.source_mass) spreads from that key to its neighbours k - 2 .. k + 2
              where the copy fails, and stays on it where the copy holds; and the previous-token head's
              weight (each source query j on keys j - 1, j - 2, j - 3), which a copy by content depends on.

A content confusion (a similar key read from anywhere) predicts offsets spread as the null's and no such
spread. The model is trained as bench/length_spike.py trains one with `--share 0` (the pipeline's own draw,
params.yaml's recipe, one model per run), so with the same --set its scores equal bench/nope_short.json's:

    python bench/nope_blur.py nope --set synthetic.train_max_len=32 --grid 7 11 15 --out bench/nope_blur.json
    python bench/nope_blur.py rope --set synthetic.train_max_len=32 --grid 7 11 15 --out bench/nope_blur.json
    python bench/nope_blur.py --table --out bench/nope_blur.json        # the runs as markdown; trains nothing

About 80-230 s a model on a 2-core CPU (training to 32-128 tokens); scoring takes seconds.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from length_spike import grid_splits  # noqa: E402
from pe_sweep import changed, run_args, save, sweep_data, sweep_splits, tagged  # noqa: E402
from time_to_accuracy import cpu_model  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.analysis.errors import recorded_predictions  # noqa: E402
from posenc.analysis.probes import source_mass  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.engine.lm import score_sequences, train_lm  # noqa: E402
from posenc.engine.runtime import resolve  # noqa: E402
from posenc.errors import ConfigError  # noqa: E402

BINS = ("<=-3", "-2", "-1", "+1", "+2", ">=+3", "none")  # offset of the predicted token from the right source position
NEAR = ("-2", "-1", "+1", "+2")
SPREAD = (-2, -1, 0, 1, 2)  # the keys around the right one whose weight the attention profile keeps


def offset_bin(source: np.ndarray, k: int, token: int) -> str:
    """BINS label of the source position nearest k holding `token` (the earlier one on a tie); k itself is
    never asked for (the right token at k is not a slip)."""
    where = np.flatnonzero(source == token)
    if len(where) == 0:
        return "none"
    d = int(where[np.argmin(np.abs(where - k) * 2 + (where > k))] - k)  # nearest, ties to the earlier
    if d == 0:  # the token also stands at k: it is the target, never asked
        raise ValueError("offset_bin: the token stands at the right position")
    return "<=-3" if d <= -3 else ">=+3" if d >= 3 else f"{d:+d}"


def slips(preds: list[torch.Tensor], sources: synthetic.Sources, task: str, vocab_size: int,
          batch_size: int) -> dict:
    """Copy only. Per wrong target: its offset bin, and the null's share per bin over every other content
    token; per target index k: the targets, the slips and the near misses (offset -2..+2)."""
    counts, null = dict.fromkeys(BINS, 0), np.zeros(len(BINS))
    n = int(sources.lengths[0])
    by_k = {"slips": [0] * n, "near": [0] * n}
    row = 0
    for p, (idx, labels) in zip(preds, synthetic.fixed_batches(sources, task, vocab_size, batch_size)):
        for b in range(idx.shape[0]):
            src, lab, pr = sources.get(row), labels[b].numpy(), p[b].numpy()
            for k, t in enumerate(np.flatnonzero(lab != synthetic.IGNORE)):
                if pr[t] == lab[t]:
                    continue
                d = offset_bin(src, k, int(pr[t])) if pr[t] < vocab_size else "none"  # SEP/PAD/BLANK: none
                counts[d] += 1
                by_k["slips"][k] += 1
                by_k["near"][k] += d in NEAR
                others = [v for v in range(vocab_size) if v not in (lab[t], pr[t]) and v != src[k]]
                for v in others:
                    null[BINS.index(offset_bin(src, k, v))] += 1 / len(others)
            row += 1
    total = sum(counts.values())
    return {"slips": total, "counts": counts, "null_share": dict(zip(BINS, (null / max(total, 1)).round(4).tolist())),
            "by_k": by_k}


@torch.no_grad()
def profile(model, sources: synthetic.Sources, task: str, vocab_size: int, size: int) -> dict:
    """The copy head (most mean weight on the right source key) and its mean weight on keys k-2 .. k+2 from
    the query of target k, per k (None where the key is outside the source), over the first `size` sequences."""
    n = int(sources.lengths[0])
    idx, _ = synthetic.make_batch([sources.get(i) for i in range(min(size, len(sources)))], task, vocab_size)
    model.cpu().eval()
    _, weights = model(idx, need_weights=True)  # per layer (B, H, T, T)
    mass = source_mass([w.float() for w in weights], n)
    layer, head = max(((i, h) for i, row in enumerate(mass) for h in range(len(row))), key=lambda lh: mass[lh[0]][lh[1]])
    w = weights[layer][:, head].double().mean(0)  # (T, T)
    rows = [[round(float(w[n + k, k + d]), 4) if 0 <= k + d < n else None for d in SPREAD] for k in range(n)]
    return {"layer": layer, "head": head, "source_mass": round(mass[layer][head], 4), "spread": list(SPREAD),
            "by_k": rows, "prev": previous_token(weights, n)}


def previous_token(weights: list[torch.Tensor], n: int) -> dict:
    """The previous-token head (most mean weight on key j - 1 from the source's queries j = 1 .. n-1, over every
    layer) and its mean weight on keys j - 1, j - 2, j - 3 from each source query j (None before the start).
    A copy by content (induction, Olsson et al. 2022) matches the query's token against each key's predecessor
    as this head hands it on: weight on j - 2 makes key k + 1 match as well, and the token after it is read."""
    j = torch.arange(1, n)
    prev = [w[:, :, j, j - 1].double().mean(dim=(0, 2)) for w in weights]  # per layer (H,)
    layer, head = max(((i, h) for i, p in enumerate(prev) for h in range(len(p))), key=lambda lh: prev[lh[0]][lh[1]])
    w = weights[layer][:, head].double().mean(0)  # (T, T)
    rows = [[round(float(w[q, q - b]), 4) if q - b >= 0 else None for b in (1, 2, 3)] for q in range(1, n)]
    return {"layer": layer, "head": head, "by_j": rows}


def run(cfg: config.Config, pe: str, task: str, seed: int, grid: tuple[int, ...], size: int) -> dict:
    """Train one model (train_lm, the pipeline's draw) and probe it at every source length n of `grid`."""
    splits = sweep_splits(cfg, task, sweep_data(task))
    rt = resolve(cfg.runtime.dtype)
    start = time.perf_counter()
    model = train_lm(cfg, pe, task, splits, seed, progress=False, rt=rt)["model"]
    trained = time.perf_counter() - start
    V, out = cfg.synthetic.vocab_size, {}
    for n, (key, sources) in zip(grid, grid_splits(cfg, task, grid).items()):
        with recorded_predictions(model) as preds:
            sc = score_sequences(model, sources, task, cfg, rt)
        out[str(n)] = {"token_acc": round(int(sc["right"].sum()) / int(sc["targets"].sum()), 6),
                       "exact_match": float(sc["exact"].mean()),
                       **slips(preds, sources, task, V, cfg.evaluate.batch_size),
                       "attention": profile(model, sources, task, V, size)}
    return {"pe": pe, "task": task, "seed": seed, "dtype": rt.dtype, "cpu_model": cpu_model(),
            "train_wall_s": round(trained, 1), "probed": f"attention: first {size} sequences a length", "grid": out}


def table(doc: dict) -> str:
    """A row per run and n: exact match, slips, the share of slips at each offset (and the null's), the near
    misses' share, the copy head's weight on the right key and on its +-1 neighbours at the worst k, and the
    previous-token head's weight on j - 1 and j - 2 from the middle source query j."""
    head = ["run", "n", "exact (%)", "slips", *(f"{b} (null)" for b in BINS), "near (%)", "head", "worst k: w(k) / w(k+-1)",
            "prev-token head: w(j-1) / w(j-2), mid-source"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for tag, r in doc["runs"].items():
        for n, v in sorted((int(n), v) for n, v in r["grid"].items()):
            s, a = max(v["slips"], 1), v["attention"]
            shares = [f"{100 * v['counts'][b] / s:.0f} ({100 * v['null_share'][b]:.0f})" for b in BINS]
            near = 100 * sum(v["counts"][b] for b in NEAR) / s
            k = int(np.argmax(v["by_k"]["slips"]))
            w = a["by_k"][k]
            side = "/".join(f"{x:.2f}" for x in (w[1], w[3]) if x is not None)
            p = a["prev"]
            mid = p["by_j"][len(p["by_j"]) // 2]
            lines.append(f"| {tag} | {n} | {100 * v['exact_match']:.1f} | {v['slips']} | " + " | ".join(shares)
                         + f" | {near:.0f} | L{a['layer']}H{a['head']} | k={k + 1}: {w[2]:.2f} / {side} | "
                         + f"L{p['layer']}H{p['head']}: {mid[0]:.2f} / " + (f"{mid[1]:.2f} |" if mid[1] is not None else "- |"))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pe", nargs="?", help="the PE to train (not with --table)")
    ap.add_argument("--grid", type=int, nargs="+", default=[7, 11, 15], help="source lengths n to probe")
    ap.add_argument("--size", type=int, default=256, help="sequences a length for the attention profile")
    ap.add_argument("--table", action="store_true", help="print the runs of --out as markdown; train nothing")
    args = run_args(ap, "params.yaml", "bench/nope_blur.json").parse_args()
    if args.table:
        print(table(io.read_json(args.out)))
        return
    if args.pe is None:
        ap.error("a run needs a PE")
    cfg, done = changed(config.load(args.params), args.items)
    grid = tuple(sorted(set(args.grid)))
    if args.task != "copy":
        raise ConfigError(f"--task {args.task}: this probe reads copy's source positions; use copy")
    n_full = synthetic.n_for_length(args.task, cfg.synthetic.train_max_len)
    if not all(1 <= n <= n_full for n in grid):
        raise ConfigError(f"--grid: every n must be in 1..{n_full}, the training sources' lengths for {args.task}")
    result = {**run(cfg, args.pe, args.task, args.seed, grid, args.size), "set": done}
    tag = tagged(f"{args.pe}-{args.task}-s{args.seed}", done)
    save(args.out, tag, result, args.params)
    said = ", ".join(f"n={n}: {v['slips']} slips, {sum(v['counts'][b] for b in NEAR)} near" for n, v in result["grid"].items())
    print(f"{tag}: {said}; trained in {result['train_wall_s']:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except ConfigError as e:
        sys.exit(f"error: {e}")
