"""Why does a faster FIRE MLP copy worse past 256? Its heads before and after the normaliser stretches them.

FIRE adds f(psi(i - j) / psi(max(L, i))) to each score (Li et al. 2024, nn/pe/fire.py): past the threshold
L (about the training length) a distance d maps to a smaller input of f the farther the query i is, so a
head's bias at distance d at query 1,000 is the one it learned for a shorter distance. A smooth f barely
changes under that; a steep one, which a faster MLP can learn (bench/fire_offset.json: a peak one
distance wide), moves. bench/fire_copy_mlp.json measured that FIRE copies teacher-forced copy less well
past 256 with its MLP at 10x the learning rate; this reads, from checkpoints kept by
`bench/pe_sweep.py --checkpoint`, the two heads copy rests on (Olsson et al. 2022) inside and past the
training length:

    previous-token head  the (layer, head) with the most weight on key j - 1 from the source's queries j at
                         the training length (256); its weight on j - 1 there, and at the longest evaluation
                         length (1,024) from queries j < 256 and 256 <= j < n (past the training length), and
                         its bias margin b(i, i - 1) - b(i, i - 2) at query positions i = 128, 255, 511, 1,023
                         (b is shared by the layers, one per head)
    copy head            the (layer, head) with the most weight on the right source key from the copy's
                         queries at 256 tokens (analysis/probes.source_mass); that weight at 256 and at 1,024,
                         and its bias on that key below the largest bias the query sees (right_key_gap)

and the learned c and L of psi and the normaliser; with `--score`, the model's token accuracy and exact match at
every evaluation length up to the longest (analysis/evaluate.evaluate_lm, every sequence, in params' runtime.dtype as
bench/pe_sweep.py scores: a few minutes).

    python bench/fire_stretch.py /tmp/fire_copy_mlp1_s1.pt /tmp/fire_copy_mlp10_s1.pt --out bench/fire_stretch.json
    python bench/fire_stretch.py /tmp/fire_copy_mlp10_s1.pt --score --out bench/fire_stretch.json
    python bench/fire_stretch.py --table --out bench/fire_stretch.json

Seconds a checkpoint (8 sequences a length, float32). Nothing here writes to the pipeline's outputs.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from pe_sweep import sweep_data, sweep_splits  # noqa: E402
from time_to_accuracy import cpu_model  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.analysis.evaluate import evaluate_lm  # noqa: E402
from posenc.analysis.probes import source_mass  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.engine.runtime import resolve  # noqa: E402
from posenc.errors import ConfigError, DataError  # noqa: E402
from posenc.nn.checkpoint import load_model  # noqa: E402

TASK = "copy"


@torch.no_grad()
def weights_at(model, sources: synthetic.Sources, vocab_size: int, size: int) -> list[torch.Tensor]:
    """Per layer (B, H, T, T): the attention weights over the first `size` sequences."""
    idx, _ = synthetic.make_batch([sources.get(i) for i in range(min(size, len(sources)))], TASK, vocab_size)
    _, weights = model(idx, need_weights=True)
    return [w.double() for w in weights]


def on_previous(weights: list[torch.Tensor], lo: int, hi: int) -> torch.Tensor:
    """(layers, H): mean weight on key j - 1 from queries lo <= j < hi."""
    j = torch.arange(max(lo, 1), hi)
    return torch.stack([w[:, :, j, j - 1].mean(dim=(0, 2)) for w in weights])


@torch.no_grad()
def margins(model, head: int, at: list[int]) -> dict[str, float]:
    """b(i, i - 1) - b(i, i - 2) of one head at the query positions `at`."""
    pos = torch.arange(max(at) + 1)
    bias = model.pe.score_bias(pos, pos)[head].double()  # (T, T)
    return {str(i): round(float(bias[i, i - 1] - bias[i, i - 2]), 4) for i in at}


@torch.no_grad()
def right_key_gap(model, head: int, n: int) -> float:
    """Copy at source length n: the head's bias on the right source key t - n below its largest bias over the
    keys the query t can see, mean over the copy's queries t = n .. 2n - 1 (0: the bias favours that key)."""
    pos = torch.arange(2 * n + 1)
    bias = model.pe.score_bias(pos, pos)[head].double()  # (T, T)
    t = torch.arange(n, 2 * n)
    seen = bias[t].masked_fill(pos[None, :] > t[:, None], float("-inf"))  # causal: keys j <= t
    return round(float((bias[t, t - n] - seen.max(-1).values).mean()), 4)


def stretch(model, splits: dict, trained: int, longest: int, vocab_size: int, size: int) -> dict:
    """The previous-token and copy heads of one model at the training length `trained` and at `longest`."""
    if not isinstance(getattr(model.pe, "mlp", None), torch.nn.Module):
        raise ConfigError(f"fire_stretch: {type(model.pe).__name__} is not FIRE (no learned distance MLP)")
    short, long = (weights_at(model, splits[f"eval_{L}"], vocab_size, size) for L in (trained, longest))
    n_short, n_long = (int(splits[f"eval_{L}"].lengths[0]) for L in (trained, longest))
    prev = on_previous(short, 1, n_short)
    layer, head = divmod(int(prev.argmax()), prev.shape[1])
    mass_short, mass_long = torch.tensor(source_mass(short, n_short)), torch.tensor(source_mass(long, n_long))
    c_layer, c_head = divmod(int(mass_short.argmax()), mass_short.shape[1])
    at = [trained // 2, trained - 1, longest // 2 - 1, longest - 1]
    return {"previous_head": {"layer": layer, "head": head, "w_trained": round(float(prev[layer, head]), 4),
                              "w_longest_inside": round(float(on_previous(long, 1, trained)[layer, head]), 4),
                              "w_longest_past": round(float(on_previous(long, trained, n_long)[layer, head]), 4)
                              if n_long > trained else None,  # the source reaches past the training length
                              "bias_margin": margins(model, head, at)},
            "copy_head": {"layer": c_layer, "head": c_head, "mass_trained": round(float(mass_short[c_layer, c_head]), 4),
                          "mass_longest": round(float(mass_long[c_layer, c_head]), 4),
                          "bias_gap": {L: right_key_gap(model, c_head, synthetic.n_for_length(TASK, int(L)))
                                       for L in sorted((k[5:] for k in splits if k.startswith("eval_")
                                                        and int(k[5:]) <= longest), key=int)}},
            "lengths": [trained, longest], "c": round(abs(model.pe.c.item()), 4), "L": round(abs(model.pe.L.item()), 2)}


def table(out: Path) -> str:
    """The runs of `out` as markdown (lengths T = trained, L = longest; j the source query)."""
    rows = ["| checkpoint | prev-token head (layer, head) | its w(j-1): @T / @L, j < T / @L, j >= T "
            "| its b(i-1) - b(i-2) at i = T/2, T-1, L/2-1, L-1 | copy head: weight on the right key @T / @L "
            "| its bias there below its largest, by length | learned c / L |", "|---|---|---|---|---|---|---|"]
    for tag, r in io.read_json(out)["runs"].items():
        p, c = r["previous_head"], r["copy_head"]
        rows.append(f"| {tag} | {p['layer']}, {p['head']} | {p['w_trained']:.2f} / {p['w_longest_inside']:.2f} / "
                    f"{p['w_longest_past'] if p['w_longest_past'] is None else round(p['w_longest_past'], 2)} | "
                    + " / ".join(f"{v:.2f}" for _, v in sorted(p["bias_margin"].items(), key=lambda kv: int(kv[0])))
                    + f" | {c['mass_trained']:.2f} / {c['mass_longest']:.2f} | "
                    + ", ".join(f"{L}: {v:.2f}" for L, v in sorted(c["bias_gap"].items(), key=lambda kv: int(kv[0])))
                    + f" | {r['c']:.4f} / {r['L']:.1f} |")
    scored = {tag: r["scores"] for tag, r in io.read_json(out)["runs"].items() if "scores" in r}
    if scored:
        lengths = sorted({L for sc in scored.values() for L in sc}, key=int)
        rows += ["", "| exact match (%) | " + " | ".join(f"@{L}" for L in lengths) + " |", "|---" * (len(lengths) + 1) + "|"]
        rows += [f"| {tag} | " + " | ".join(f"{100 * sc[L]['exact_match']:.1f}" if L in sc else "" for L in lengths) + " |"
                 for tag, sc in scored.items()]
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="*", type=Path)
    ap.add_argument("--params", default="study/params.yaml")
    ap.add_argument("--size", type=int, default=8, help="sequences a length")
    ap.add_argument("--score", action="store_true", help="also score the model at every length up to the longest")
    ap.add_argument("--out", default="bench/fire_stretch.json")
    ap.add_argument("--table", action="store_true", help="print the runs of --out as markdown; reads no checkpoint")
    args = ap.parse_args()
    if args.table:
        print(table(Path(args.out)))
        return
    if not args.checkpoints:
        raise ConfigError("fire_stretch: name at least one checkpoint (or --table)")
    cfg = config.load(args.params)
    trained, longest = cfg.synthetic.train_max_len, max(cfg.synthetic.eval_lengths)
    if trained not in synthetic.eval_lengths(cfg.synthetic):
        raise ConfigError(f"{args.params}: synthetic.curve_lengths or eval_lengths must hold train_max_len {trained}")
    splits = sweep_splits(cfg, TASK, sweep_data(TASK))
    out = Path(args.out)
    doc = io.read_json(out) if out.is_file() else {"runs": {}}
    for path in args.checkpoints:
        model, meta = load_model(path)
        if meta.get("task") not in (None, TASK):
            raise DataError(f"{path}: a {meta['task']} model, not {TASK}")
        r = {**stretch(model.eval(), splits, trained, longest, cfg.synthetic.vocab_size, args.size),
             "seed": meta.get("seed"), "cpu_model": cpu_model()}
        if args.score:
            lengths = [L for L in synthetic.eval_lengths(cfg.synthetic) if L <= longest]
            r["scores"] = {L: {k: round(s[k], 4) for k in ("token_acc", "exact_match")} for L, s in
                           evaluate_lm(model, splits, TASK, cfg, lengths, rt=resolve(cfg.runtime.dtype)).items()}
        doc["runs"][path.stem] = r
        print(f"{path.stem}: {r}", flush=True)
    io.write_json(out, doc)


if __name__ == "__main__":
    try:
        main()
    except (ConfigError, DataError) as e:
        sys.exit(f"error: {e}")
