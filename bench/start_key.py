"""Would a key for the sequence's start close hard_alibi_ngram's gap to issue 16's bar? Measured, not changed.

hard_alibi_ngram copies by an n-gram lookup: the query's window of recent tokens against each earlier
position's. At copy index 1 (the second target) the query's window reaches back over SEP, while the right
key is the sequence's first token, whose window holds that token alone; about two fifths of its slips at 1,024
are there, and as many at 256 as at 1,024 (docs/study.md, "Where the slips are"). A start token that equals SEP
makes the two windows alike: SEP a1 .. an SEP a1 .. an. This script trains one model with that format and
scores it, every other thing as the pipeline does (bench/pe_sweep.py's recipe: study/params.yaml, the same
data sources, train.max_steps, engine/lm.train_lm, score_sequences); `--plain` trains the same without the
start token, for a side-by-side baseline on one machine. It patches synthetic.make_batch in this process only:
the pipeline's format, data and results stay as they are.

    python bench/start_key.py hard_alibi_ngram --seed 0 --tag start_s0
    python bench/start_key.py hard_alibi_ngram --seed 0 --tag plain_s0 --plain
    python bench/start_key.py hard_alibi_ngram --seed 0 --tag start_far_s0 --far   # also at 2048 and 4096
    python bench/start_key.py hard_alibi_ngram --summary study/cpu_ngram   # the seeds so far, with intervals

Which property of the start token helps (T5, docs/study.md "With the start token"), `--start`: `sep` (the
default, copy_start's format), `blank` (a fixed token that is not SEP: a fixed first key, but the first
source token's predecessor no longer matches the middle SEP) or `random` (a content token that changes from
sequence to sequence: the same shift, no fixed key):

    python bench/start_key.py t5 --seed 0 --tag t5_blank_s0 --start blank --out bench/start_kind.json

The output (bench/start_key.json) holds each length's token accuracy, exact match and where the slips are
(copy index 0, 1, 2+), the CPU and the wall time (measured on whatever else ran: say so when quoting it).
"""

import argparse
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from pe_sweep import changed, keyed, merged, run_args, sweep_data, sweep_splits  # noqa: E402
from time_to_accuracy import cpu_model  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.analysis.errors import recorded_predictions, targets_right  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.engine.lm import score_sequences, summarize, train_lm  # noqa: E402
from posenc.engine.runtime import resolve  # noqa: E402
from posenc.errors import ConfigError  # noqa: E402
from posenc.reporting import stats  # noqa: E402
from posenc.reporting.study_pick import welch  # noqa: E402

_plain_batch = synthetic.make_batch


START = ("sep", "blank", "random")  # the token in front: SEP (copy_start's), another fixed one, or none fixed


def start_tokens(sources, vocab_size: int, kind: str) -> torch.Tensor:
    """(B, 1) the token in front of each sequence: SEP; BLANK (fixed, in the embedding, unused by copy, so
    the first source token's predecessor no longer matches the middle SEP); or a content token drawn from
    the sequence's own bytes (crc32 mod V: the same for a sequence at every step, no key fixed across them)."""
    if kind == "sep":
        ids = [synthetic.sep_id(vocab_size)] * len(sources)
    elif kind == "blank":
        ids = [synthetic.blank_id(vocab_size)] * len(sources)
    else:
        ids = [zlib.crc32(np.asarray(s, dtype=np.int64).tobytes()) % vocab_size for s in sources]
    return torch.tensor(ids, dtype=torch.long)[:, None]


def start_keyed(kind: str):
    """make_batch with a start token (start_tokens) prepended: idx (B, T + 1), labels (B, T + 1), same targets."""
    def batch(sources, task, vocab_size):
        idx, labels = _plain_batch(sources, task, vocab_size)  # (B, T): right-padded, so one column in front fits all
        start = start_tokens(sources, vocab_size, kind).to(idx.dtype)
        ignore = torch.full((idx.shape[0], 1), synthetic.IGNORE, dtype=labels.dtype)
        return torch.cat([start, idx], 1), torch.cat([ignore, labels], 1)
    return batch


def slips(right: np.ndarray) -> dict:
    """(N, n_targets) correctness -> wrong targets at copy index 0, 1 and 2+, and in all."""
    wrong = right < 1
    return {"index_0": int(wrong[:, 0].sum()), "index_1": int(wrong[:, 1].sum()),
            "index_2plus": int(wrong[:, 2:].sum()), "all": int(wrong.sum()), "targets": int(wrong.size)}


def score(model, splits, task, cfg, rt, lengths) -> dict:
    """Each of `lengths`: token accuracy, exact match and the slips by copy index (every sequence)."""
    out = {}
    for L in lengths:
        sources = splits[f"eval_{L}"]
        with recorded_predictions(model) as preds:
            s = summarize(score_sequences(model, sources, task, cfg, rt))
        right = targets_right(preds, sources, task, cfg.synthetic.vocab_size, cfg.evaluate.batch_size)
        out[L] = {"token_acc": s["acc"], "exact_match": s["exact"], "slips": slips(right)}
    return out


def summary(out: dict, pe: str, part: Path) -> list[str]:
    """One line per length: exact match with the start token over this file's seeds of `pe` against the same
    PE's models in a study part (the pipeline's format), mean [95 % t] over seeds and Welch's p; slips by index."""
    runs = [r for r in out["runs"].values()
            if r["pe"] == pe and r["task"] == "copy" and r["start_token"] and r.get("start", "sep") == "sep"]
    seeds: dict[int, dict] = {}  # one model per seed: a rerun (--far) adds lengths, it is not another seed
    for r in runs:
        seeds[r["seed"]] = {**seeds.get(r["seed"], {}), **r["eval"]}
    plain = [io.read_json(f)["lengths"] for f in sorted((part / "metrics/eval").glob(f"copy_{pe}_s*.json"))]
    lines = [f"{pe} on copy: start token, seeds {sorted(seeds)} ({runs[0]['cpu_model']}), "
             f"against {part} ({len(plain)} seeds, no start token)"] if runs else [f"no start-token run of {pe}"]
    for L in sorted({int(L) for e in seeds.values() for L in e}):
        scored = [e[str(L)] for e in seeds.values() if str(L) in e]
        with_key = [e["exact_match"] for e in scored]
        without = [p[str(L)]["exact_match"] for p in plain if str(L) in p]
        lo, hi = stats.t_interval(with_key, stats.SHARE)
        slipped = [e["slips"] for e in scored]
        said = (f"@{L} ({len(scored)} seeds): {100 * np.mean(with_key):.1f} [{100 * lo:.1f}, {100 * hi:.1f}] % "
                f"exact with it, "
                f"slips at copy index 1 / elsewhere {sum(x['index_1'] for x in slipped)} / "
                f"{sum(x['index_0'] + x['index_2plus'] for x in slipped)}")
        if len(without) >= 2:
            plo, phi = stats.t_interval(without, stats.SHARE)
            said += (f"; without: {100 * np.mean(without):.1f} [{100 * plo:.1f}, {100 * phi:.1f}] %, "
                     f"Welch p = {welch(with_key, without):.3f}")
        lines.append(said)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pe")
    ap.add_argument("--tag", help="the run's name in the output file (a rerun replaces it)")
    ap.add_argument("--plain", action="store_true", help="the pipeline's format (no start token): the baseline")
    ap.add_argument("--start", choices=START, default="sep",
                    help="the token in front (sep: copy_start's; blank: another fixed token; random: none fixed)")
    ap.add_argument("--far", action="store_true", help="also score at far_lengths (2048, 4096 in the study)")
    ap.add_argument("--summary", metavar="PART", help="train nothing: the seeds so far against a study part's")
    args = run_args(ap, "study/params.yaml", "bench/start_key.json").parse_args()
    if args.summary:
        print("\n".join(summary(io.read_json(args.out), args.pe, Path(args.summary))))
        return
    if not args.tag:
        raise ConfigError("--tag: required to train a run")
    cfg, done = changed(config.load(args.params), args.items)
    if args.plain and args.start != "sep":
        raise ConfigError(f"--start {args.start}: --plain has no start token")
    if not args.plain:
        synthetic.make_batch = start_keyed(args.start)  # fixed_batches and train_lm look it up in the module
    data = sweep_data(args.task, "posenc_start_key")
    splits = sweep_splits(cfg, args.task, data)
    lengths = list(cfg.synthetic.eval_lengths)
    if args.far:  # far_lengths' sets, their own file as in the pipeline
        far = keyed(cfg, data.with_name(data.stem + "_far.npz"))  # named after the params, as sweep_splits' file
        if not far.exists():
            io.save_npz(far, synthetic.generate_far(cfg.synthetic, args.task, cfg.seed))
        splits.update(synthetic.load(far, args.task, cfg.synthetic.vocab_size, train=False))
        lengths += list(cfg.synthetic.far_lengths)
    rt = resolve(cfg.runtime.dtype)
    start = time.perf_counter()
    out = train_lm(cfg, args.pe, args.task, splits, args.seed, progress=False, rt=rt)
    wall = time.perf_counter() - start
    evals = score(out["model"], splits, args.task, cfg, rt, lengths)
    result = {"pe": args.pe, "task": args.task, "seed": args.seed, "start_token": not args.plain,
              **({} if args.plain else {"start": args.start}), "set": done,
              "dtype": rt.dtype, "train_wall_s": round(wall, 1), "cpu_model": cpu_model(), "eval": evals,
              "checks": out["checks"]}
    old = io.read_json(args.out) if Path(args.out).exists() else {"runs": {}}
    io.write_json(args.out, merged(old, args.tag, result, args.params))
    print(f"{args.tag}: " + ", ".join(f"@{L} {v['token_acc']:.4f} / {v['exact_match']:.3f} "
                                      f"(slips at index 1: {v['slips']['index_1']}, all: {v['slips']['all']})"
                                      for L, v in evals.items()) + f"; trained in {wall:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except ConfigError as e:
        sys.exit(f"error: {e}")
