"""Which key does a copy model read when it slips? The context a wrong prediction shares with the query.

A teacher-forced copy model predicts the token after position t by finding an earlier position i whose
context matches the context ending at t (the tokens t, t - 1, ...) and reading the token after i. When
it predicts a wrong token b, some key i with token b after it won: this probe measures how much context
the best such key shares with the query (match = how many tokens, ending at i and at t, agree; -1 when b
follows no earlier position, so no key can have supplied it) and where it is (source half or copy half).
The same is computed for every other token the model could have said instead (the null: a wrong token
picked blindly), so a share of slips at match 1 well above the null's says the lookup confuses keys that
share the last token only (its window of context is too short or too weakly weighted), and a share at
match 0 or -1 near the null's says the slip is not a lookup of a similar key at all.

Trains the model exactly as bench/pe_sweep.py does (study/params.yaml's recipe, `--set` to change keys),
or reuses a checkpoint kept from an earlier run (`--checkpoint`, never committed), then scores the
evaluation sets with the pipeline's scoring (engine/lm.score_sequences) and reads its predictions.

    python bench/wrong_keys.py hard_alibi --seed 0 --tag hard_alibi_s0 --checkpoint /tmp/wk_hard_alibi_s0.pt
"""

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from pe_sweep import changed, sweep_data, sweep_splits  # noqa: E402
from time_to_accuracy import cpu_model  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.analysis.errors import pair_ambiguous, recorded_predictions  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.engine.lm import score_sequences, train_lm  # noqa: E402
from posenc.engine.runtime import resolve  # noqa: E402
from posenc.errors import ConfigError, DataError  # noqa: E402

CAP = 4  # matches of CAP tokens or more are counted together
BINS = ("none", "0", "1", "2", "3+")  # "none": the token follows no earlier position
EDGE = 9  # slips at copy index >= EDGE are counted together: the first few are where a window reaches back past SEP


def matches(seq: np.ndarray, t: int) -> np.ndarray:
    """(t,) for each key i < t: how many tokens ending at i equal those ending at t (capped at CAP)."""
    m = np.zeros(t, dtype=np.int64)
    alive = np.ones(t, dtype=bool)
    i = np.arange(t)
    for j in range(CAP):
        ok = alive & (i - j >= 0) & (seq[np.maximum(i - j, 0)] == seq[t - j])
        m += ok
        alive = ok
    return m


def best_key(seq: np.ndarray, t: int, m: np.ndarray, follows) -> tuple[int, int]:
    """(match, position) of the best key i < t whose next token is in `follows` (an int, or a bool mask over
    the vocabulary), the earliest among equals, so a copy-half key is named only where no source key matches
    as well; (-1, -1) if there is none."""
    after = seq[1: t + 1]  # after[i] is the token key i is followed by
    keys = np.flatnonzero(follows[after] if isinstance(follows, np.ndarray) else after == follows)
    if len(keys) == 0:
        return -1, -1
    best = m[keys].max()
    return int(best), int(keys[m[keys] == best].min())


def bin_of(match: int) -> str:
    return "none" if match < 0 else str(match) if match < 3 else "3+"


def slip_keys(seq: np.ndarray, t: int, pred: int, target: int, content: np.ndarray) -> dict:
    """One wrong prediction at query t: the bin and half of its best key, and the null's share per bin over
    every other content token (not the target, not the prediction)."""
    m = matches(seq, t)
    match, where = best_key(seq, t, m, pred)
    others = [b for b in content if b != target and b != pred]
    null = np.zeros(len(BINS))
    for b in others:
        null[BINS.index(bin_of(best_key(seq, t, m, int(b))[0]))] += 1
    return {"bin": bin_of(match), "where": where, "null": null / len(others)}


def probe_length(model, sources, task: str, cfg: config.Config, rt, pairs: np.ndarray) -> dict:
    """Every target of one evaluation length. For each, the distractor: the best key followed by a token other
    than the target (bin of its match). Per distractor bin: targets and slips (so the slip rate given the
    closest wrong key). Per slip: the bin of the key its wrong token came from (slips at repeated pairs by
    the 2-token rule's mask apart), the null's mean share per bin, and how many such keys lie in the copy half
    with none as good in the source."""
    V = cfg.synthetic.vocab_size
    with recorded_predictions(model) as preds:
        sc = score_sequences(model, sources, task, cfg, rt)
    content = np.arange(V)
    counts = {k: dict.fromkeys(BINS, 0) for k in ("other", "pairs")}
    exposed, slipped = dict.fromkeys(BINS, 0), dict.fromkeys(BINS, 0)
    null, in_copy, row = np.zeros(len(BINS)), 0, 0
    at_index = [0] * (EDGE + 1)  # slips by the target's index in the copy (0: the token after SEP), EDGE+ pooled
    for p, (idx, labels) in zip(preds, synthetic.fixed_batches(sources, task, V, cfg.evaluate.batch_size)):
        for b in range(idx.shape[0]):
            seq, lab, pr = idx[b].numpy(), labels[b].numpy(), p[b].numpy()
            n = int(sources.lengths[row])
            for k, t in enumerate(np.flatnonzero(lab != synthetic.IGNORE)):
                m = matches(seq, int(t))
                wrong = np.ones(int(seq.max()) + 1, dtype=bool)
                wrong[lab[t]] = False
                d = bin_of(best_key(seq, int(t), m, wrong)[0])
                exposed[d] += 1
                if pr[t] == lab[t]:
                    continue
                slipped[d] += 1
                at_index[min(k, EDGE)] += 1
                s = slip_keys(seq, int(t), int(pr[t]), int(lab[t]), content)
                counts["pairs" if pairs[row, k] else "other"][s["bin"]] += 1
                null += s["null"]
                in_copy += s["where"] > n
            row += 1
    slips = sum(slipped.values())
    return {"token_acc": int(sc["right"].sum()) / int(sc["targets"].sum()), "exact_match": float(sc["exact"].mean()),
            "slips": slips, "counts": counts, "in_copy_half": in_copy,
            "null_share": dict(zip(BINS, (null / max(slips, 1)).round(4).tolist())),
            "targets_by_distractor": exposed, "slips_by_distractor": slipped, "slips_by_copy_index": at_index}


def narrowed(sources: synthetic.Sources, share: float, k: int | list[int], vocab_size: int,
             seed: int) -> synthetic.Sources:
    """The training sources with a `share` of the sequences re-spelt over a random k-token alphabet each
    (data/synthetic.narrowed, the curriculum hard_alibi_ngram trains with; several sizes: one drawn per
    sequence)."""
    return synthetic.narrowed(sources, share, (k,) if isinstance(k, int) else tuple(k), vocab_size, seed)


def longest_training(task: str, cfg: config.Config) -> int:
    """Tokens in the longest training sequence of `task` (the length the log factors are 1 at)."""
    return synthetic.total_length(task, synthetic.n_for_length(task, cfg.synthetic.train_max_len))


def log_scaled(longest: int) -> None:
    """Scalable softmax (Nakanishi 2025, softmax(s log n . z) over n keys) on hard_alibi's unwindowed heads,
    in training and at evaluation: their logits at query position i are multiplied by log(i + 1) / log(longest)
    (s is absorbed by W_Q), so the head learns its sharpness as a function of how many keys compete, and
    past the training length keeps sharpening at the same rate. Patches the class (checkpoints reused with
    the flag get it too); windowed heads, whose key count never exceeds their window, are left alone."""
    from posenc.nn.pe.hard_alibi import HardAlibi

    def rotate(self, q, k, positions):  # q, k: (B, H, T, Dh); positions (T,) or (B, T)
        pos = positions if positions.dim() == 1 else positions[0]
        f = torch.log(pos.float() + 1) / math.log(longest)  # (T,)
        scale = torch.where(torch.isinf(self.windows)[:, None], f[None, :], torch.ones_like(f)[None, :])  # (H, T)
        return q * scale[:, :, None].to(q.dtype), k

    HardAlibi.rotate = rotate


def first_layer(pe: str, windows: list[int], cfg: config.Config) -> None:
    """Train hard_alibi with layer 0's heads windowed as `windows` and the later layers as params say: a
    key can then carry up to max(windows) - 1 tokens before the token it hands on (bench/layer0_windows.py)."""
    import posenc.engine.lm
    from layer0_windows import FirstLayerWindowed

    if pe != "hard_alibi" or len(windows) > cfg.model.n_heads or min(windows) < 1:
        raise ConfigError(f"--first: hard_alibi with at most model.n_heads ({cfg.model.n_heads}) windows >= 1, "
                          f"got {pe!r} and {windows}")
    FirstLayerWindowed.FIRST, FirstLayerWindowed.REST = tuple(windows), tuple(cfg.pe["hard_alibi"]["windows"])
    posenc.engine.lm.build_model = FirstLayerWindowed  # train_lm builds its model through this name


def sharpened_scores(model, splits, task: str, cfg: config.Config, specs: list[str]) -> dict:
    """{spec: {L: exact match, token accuracy, errors per sequence}} with the heads that carry no window in
    the last layer sharpened by each factor of bench/sharpen.py (in every layer, as it does; float32, every
    sequence; the model is restored after)."""
    from sharpen import factor_of, score, sharpened

    last = getattr(model, "layer_windows", [model.pe.windows])[-1]  # --first: the later layers' layout
    heads = [h for h, w in enumerate(last.tolist()) if math.isinf(w)]
    longest = longest_training(task, cfg)
    out = {}
    for spec in specs:
        with sharpened(model, heads, factor_of(spec, longest)):
            out[spec] = r = score(model, splits, task, cfg, list(cfg.synthetic.eval_lengths))
        said = ", ".join(f"@{L} {100 * v['exact_match']:.1f} %" for L, v in r.items())
        print(f"heads {heads} x {spec}: exact {said}")
    return out


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pe")
    ap.add_argument("--tag", required=True)
    ap.add_argument("--task", default="copy")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", dest="items")
    ap.add_argument("--params", default="study/params.yaml")
    ap.add_argument("--narrow", nargs="+", type=float, default=None, metavar="SHARE K",
                    help="train with SHARE of the sequences over a random K-token alphabet each (narrowed()); "
                         "several K: each sequence draws one")
    ap.add_argument("--first", type=int, nargs="+", default=None, metavar="W",
                    help="hard_alibi only: layer 0's windows (bench/layer0_windows.py), the later layers' from params")
    ap.add_argument("--log-scale", action="store_true",
                    help="hard_alibi only: scalable softmax on the unwindowed heads, trained with it (log_scaled())")
    ap.add_argument("--sharpen", nargs="+", default=[], metavar="FACTOR",
                    help="also score the trained model with its unwindowed heads sharpened (bench/sharpen.py's "
                         "const:<c> / logn:<p>, float32, no retraining)")
    ap.add_argument("--checkpoint", default="", help="keep the trained model here (pickled; reused if present)")
    ap.add_argument("--out", default="bench/wrong_keys.json")
    return ap.parse_args()


def probe_splits(args: argparse.Namespace, cfg: config.Config) -> dict:
    """The task's sets as the probes train on them (bench/read_distance.py too): the sweep's, kept in their own
    folder, with --narrow's curriculum applied to the training set."""
    splits = sweep_splits(cfg, args.task, sweep_data(args.task, "posenc_wrong_keys"))
    if not args.narrow:
        return splits
    if len(args.narrow) < 2:
        raise ConfigError("--narrow needs SHARE and at least one alphabet size K")
    share, ks = args.narrow[0], [int(k) for k in args.narrow[1:]]
    return {**splits, "train": narrowed(splits["train"], share, ks if len(ks) > 1 else ks[0],
                                        cfg.synthetic.vocab_size, cfg.seed)}


def trained(args: argparse.Namespace, cfg, splits, rt):
    """The model to probe: trained with args' options, or loaded from --checkpoint when it exists."""
    if args.log_scale:
        if args.pe != "hard_alibi":
            raise ConfigError(f"--log-scale: only for hard_alibi, got {args.pe!r}")
        log_scaled(longest_training(args.task, cfg))
    if args.first:
        first_layer(args.pe, args.first, cfg)
    ckpt = Path(args.checkpoint) if args.checkpoint else None
    if ckpt and ckpt.is_file():
        model = torch.load(ckpt, weights_only=False)
    else:
        model = train_lm(cfg, args.pe, args.task, splits, args.seed, progress=True, rt=rt)["model"]
        if ckpt:
            torch.save(model, ckpt)
    return model.eval()


def main() -> None:
    args = parse_args()
    cfg, done = changed(config.load(args.params), args.items)
    rt = resolve(cfg.runtime.dtype)
    splits = probe_splits(args, cfg)
    model = trained(args, cfg, splits, rt)
    lengths = {}
    for L in cfg.synthetic.eval_lengths:
        sources = splits[f"eval_{L}"]
        pairs = pair_ambiguous(sources, args.task, cfg.synthetic.vocab_size)
        lengths[str(L)] = r = probe_length(model, sources, args.task, cfg, rt, pairs)
        rates = {k: f"{r['slips_by_distractor'][k]}/{v}" for k, v in r["targets_by_distractor"].items()}
        print(f"@{L}: exact {100 * r['exact_match']:.1f} %, {r['slips']} slips; best key's match, other / at pairs: {r['counts']['other']} / "
              f"{r['counts']['pairs']}; null share {r['null_share']}; in the copy half {r['in_copy_half']}; "
              f"slips / targets by the closest wrong key's match: {rates}; slips by copy index 0..{EDGE}+: "
              f"{r['slips_by_copy_index']}")
    sharp = sharpened_scores(model, splits, args.task, cfg, args.sharpen) if args.sharpen else None
    out = Path(args.out)
    old = io.read_json(out) if out.is_file() else {"runs": {}}
    old["runs"][args.tag] = {"pe": args.pe, "task": args.task, "seed": args.seed, "set": done,
                             "narrow": args.narrow, "log_scale": args.log_scale, "first_layer": args.first,
                             "dtype": rt.dtype,
                             "cpu_model": cpu_model(), "lengths": lengths,
                             **({"sharpened": sharp} if sharp else {})}
    io.write_json(out, old)


if __name__ == "__main__":
    try:
        main()
    except (ConfigError, DataError) as e:
        sys.exit(f"error: {e}")
