"""Is the learned PE slow because its late positions are starved? Train with a share of full-length batches.

The training sampler (data/synthetic.LengthSampler) draws each step's source length n uniformly from
1..n_max, and a copy predicts its targets at positions n..2n-1, so the position p is in the loss only in
steps with 2n > p: the rows where the last eighth of a 256-token copy is predicted are in the loss in
a few steps out of a hundred, the last one in under one (rows_in_loss counts it for each run), while
the rows of a short sequence are in most of them. An absolute PE has to learn each row
from the steps that reach it; a relative one (RoPE, ALiBi) shares what it learns at short lengths with
the long ones. This trains the default recipe (params.yaml: model, steps, schedule, precision) with
train.long_share = q: a share q of the steps after the curriculum drawn at the pool's longest n (the
other steps n uniform; q = 0 is the uniform draw of the pipeline before it adopted q = 0.5, draw for
draw), then evaluates every sequence at the evaluation and curve lengths (analysis/evaluate.evaluate_lm) as the
evaluate stage does:

    python bench/length_mix.py learned --share 0.5          # about 8 minutes on a 2-core CPU

Each run is added to bench/length_mix.json under "<pe>-<task>-s<seed>-q<share>" with the CPU named, its
validation checks with wall time since training began (the time-to-accuracy measure of
bench/time_to_accuracy.py), how often four target rows of a training-length sequence were in the
loss (rows_in_loss), and the scores. The runs committed there were made before the pipeline adopted
train.long_share (with the same draws, patched in). Nothing here writes to the pipeline's outputs.
"""

import argparse
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from pe_sweep import changed, run_args, save, sweep_data, sweep_splits, tagged  # noqa: E402
from time_to_accuracy import cpu_model, timed_checks  # noqa: E402

from posenc import config  # noqa: E402
from posenc.analysis.evaluate import evaluate_lm  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.engine.lm import train_lm  # noqa: E402
from posenc.engine.runtime import resolve  # noqa: E402
from posenc.errors import ConfigError  # noqa: E402


@contextmanager
def recording(drawn: list[int]):
    """While open, every n that LengthSampler draws is appended to `drawn` (the draws themselves unchanged)."""
    plain = synthetic.LengthSampler.draw_n

    def draw_n(self, step: int) -> int:
        drawn.append(plain(self, step))
        return drawn[-1]

    synthetic.LengthSampler.draw_n = draw_n
    try:
        yield
    finally:
        synthetic.LengthSampler.draw_n = plain


def rows_in_loss(drawn: list[int], task: str, cfg: config.Config) -> dict[str, float]:
    """{position: share of the steps in which a target is predicted there}, for the first, middle,
    seven-eighths and last target position of a training-length sequence: how often an absolute PE's
    row for that position is in the loss."""
    n_full = synthetic.n_for_length(task, cfg.synthetic.train_max_len)
    counts = np.zeros(cfg.synthetic.train_max_len)
    for n, times in zip(*np.unique(drawn, return_counts=True)):
        _, labels = synthetic.make_batch([np.zeros(int(n), dtype=np.int64)], task, cfg.synthetic.vocab_size)
        counts[np.flatnonzero(labels[0].numpy() != synthetic.IGNORE)] += times
    _, labels = synthetic.make_batch([np.zeros(n_full, dtype=np.int64)], task, cfg.synthetic.vocab_size)
    span = np.flatnonzero(labels[0].numpy() != synthetic.IGNORE)
    picks = [span[0], span[len(span) // 2], span[(7 * len(span)) // 8], span[-1]]
    return {str(int(p)): round(float(counts[p] / len(drawn)), 4) for p in picks}


def run(cfg: config.Config, pe: str, task: str, seed: int, data: Path) -> dict:
    """Train (validation checks timed from the start of training) and evaluate one model."""
    splits = sweep_splits(cfg, task, data)
    rt, rows, drawn = resolve(cfg.runtime.dtype), [], []
    start = time.perf_counter()
    with recording(drawn):
        out = train_lm(cfg, pe, task, splits, seed, progress=False, on_log=timed_checks(rows, start), rt=rt)
    trained = time.perf_counter() - start
    scores = evaluate_lm(out["model"], splits, task, cfg, synthetic.eval_lengths(cfg.synthetic), rt=rt)  # + curve_lengths
    return {"pe": pe, "task": task, "seed": seed, "share": cfg.train.long_share, "dtype": rt.dtype, "steps": len(drawn),
            "train_wall_s": round(trained, 1), "train_tokens": out["summary"]["train_tokens"],
            "mean_n": round(float(np.mean(drawn)), 2), "rows_in_loss": rows_in_loss(drawn, task, cfg),
            "checks": rows, "tracking": out["tracking"],
            "eval": {L: {k: s[k] for k in ("token_acc", "exact_match")} for L, s in scores.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pe")
    ap.add_argument("--share", type=float, required=True, help="train.long_share: share of steps at the longest n")
    args = run_args(ap, "params.yaml", "bench/length_mix.json").parse_args()
    cfg, done = changed(config.load(args.params), [f"train.long_share={args.share}", *args.items])  # checked here
    done.pop("train.long_share")
    result = {**run(cfg, args.pe, args.task, args.seed, sweep_data(args.task, "posenc_mix")), "set": done,
              "cpu_model": cpu_model()}
    tag = tagged(f"{args.pe}-{args.task}-s{args.seed}-q{args.share:g}", done)
    save(args.out, tag, result, args.params)  # each run names its CPU (pe_sweep.merged)
    said = ", ".join(f"@{L} {v['token_acc']:.4f} / {v['exact_match']:.3f}" for L, v in result["eval"].items())
    print(f"{tag}: token acc / exact {said}; trained in {result['train_wall_s']:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except ConfigError as e:
        sys.exit(f"error: {e}")
