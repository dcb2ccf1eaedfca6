"""Does an absolute PE learn the copy once, or once per length? Train with extra steps at one source length.

Under the default draw (train.long_share: half the steps at the pool's longest n, the rest n uniform) the
absolute PEs copy the 256-token sequences they train most and almost none of the 192-token ones, which
they also trained on, in fewer steps (REPORT.md, "lower at a shorter length it trained on"). A reading
(docs/recipe.md, "What the lever costs inside the training range"): each n puts the copy offset n + 1
between its own pair of absolute positions, so an absolute PE learns the copy per length, from the steps
of that length, while a relative PE (RoPE) learns one rule for every n. This tests it. Of the steps that
the default draw gives to the uniform n, a share `--share` of all steps after the curriculum goes to one
source length `--spike` instead (the steps at the longest n are the same ones: one uniform draw decides
both, as in data/synthetic.LengthSampler):

    n = longest        if r < long_share
        spike          if r < long_share + share
        uniform n      otherwise                     (r uniform on [0, 1), one per step)

With --share 0 this is the default draw, draw for draw (the model is the pipeline's, in this precision).
Each model is then scored on 256 fresh sequences at every n of --grid (the copy offsets around the
spike and the training length): if the reading holds, an absolute PE's exact match rises at the spike's
n and not a few lengths away, and a relative PE's is high everywhere with or without the spike.

    python bench/length_spike.py learned --share 0.25      # about 9 minutes on a 2-core CPU
    python bench/length_spike.py learned --share 0         # the default draw, scored on the same grid
    python bench/length_spike.py --table exact_match       # the runs so far as a markdown table

With --share 0 and params changed (--set) it is the pipeline's draw under other params; docs/recipe.md's
NoPE at shorter training ranges (--out bench/nope_short.json) is this:

    python bench/length_spike.py nope --share 0 --spike 15 --grid 3 5 7 9 11 13 15 \
        --set synthetic.train_max_len=32 --out bench/nope_short.json

Each run goes into bench/length_spike.json under "<pe>-<task>-s<seed>-n<spike>-p<share>" with the CPU,
the steps each n of the grid got, and per n the token accuracy, exact match and the accuracy at each
target index in order ("by_target"). Nothing here writes to the pipeline's outputs.
"""

import argparse
import sys
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from pe_sweep import changed, run_args, save, sweep_data, sweep_splits, tagged  # noqa: E402
from time_to_accuracy import cpu_model  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.analysis.errors import recorded_predictions, targets_right  # noqa: E402
from posenc.analysis.evaluate import evaluate_lm  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.engine.lm import train_lm  # noqa: E402
from posenc.engine.runtime import resolve  # noqa: E402
from posenc.errors import ConfigError  # noqa: E402
from posenc.reporting.stats import proportion_interval  # noqa: E402

GRID = (63, 79, 87, 91, 93, 94, 95, 96, 97, 99, 103, 111, 119, 127)  # source lengths n (copy: 2n + 1 tokens)


@contextmanager
def spiked(n_spike: int, share: float, drawn: list[int]):
    """While open, LengthSampler gives a share `share` of the steps after the curriculum to n_spike, taken
    from its uniform steps (module docstring), and appends every n it draws to `drawn`."""
    plain = synthetic.LengthSampler.draw_n

    def draw_n(self, step: int) -> int:
        if step < self.ramp_steps:
            drawn.append(plain(self, step))  # the curriculum: the default's draws
            return drawn[-1]
        r = self.rng.random()
        if r < self.long_share:
            drawn.append(int(self.n_values[-1]))
        elif r < self.long_share + share:
            drawn.append(n_spike)
        else:
            drawn.append(int(self.rng.choice(self.n_values)))  # past the curriculum every n is allowed
        return drawn[-1]

    synthetic.LengthSampler.draw_n = draw_n
    try:
        yield
    finally:
        synthetic.LengthSampler.draw_n = plain


def check(cfg: config.Config, task: str, n_spike: int, share: float, grid: tuple[int, ...]) -> None:
    """One-line errors for a run this script cannot make as described, before any training."""
    n_full = synthetic.n_for_length(task, cfg.synthetic.train_max_len)
    if cfg.train.long_share <= 0:
        raise ConfigError("train.long_share: this bench changes the draw of train.long_share > 0; it is 0 here")
    if not 0 <= share <= 1 - cfg.train.long_share:
        raise ConfigError(f"--share {share}: must be in [0, 1 - train.long_share] = [0, {1 - cfg.train.long_share:g}]")
    if not all(1 <= n <= n_full for n in (n_spike, *grid)):
        raise ConfigError(f"--spike/--grid: every n must be in 1..{n_full}, the training sources' lengths for {task}")


def grid_splits(cfg: config.Config, task: str, grid: tuple[int, ...]) -> dict[str, synthetic.Sources]:
    """cfg.synthetic.eval_size fresh sequences at each source length n of `grid`, keyed eval_<tokens> as
    the evaluation's sets are (one generator per length, from params' seed, as data/synthetic does)."""
    lengths = tuple(synthetic.total_length(task, n) for n in grid)
    arrays = synthetic.generate_far(replace(cfg.synthetic, far_lengths=lengths), task, cfg.seed)
    return {f"eval_{L}": synthetic.Sources(arrays[f"eval_{L}_lengths"], arrays[f"eval_{L}_tokens"]) for L in lengths}


def steps_at(drawn: list[int], grid: tuple[int, ...]) -> dict[str, int]:
    """{n: steps drawn at n} for every n of the grid."""
    values, counts = np.unique(drawn, return_counts=True)
    at = dict(zip(values.tolist(), counts.tolist()))
    return {str(n): int(at.get(n, 0)) for n in grid}


def scored(model, evals: dict[str, synthetic.Sources], task: str, cfg: config.Config, rt) -> tuple[dict, dict]:
    """evaluate_lm's scores at each length of `evals`, and {str(L): the accuracy at each target index, in
    order}, read from the very passes that score the model (analysis/errors.recorded_predictions)."""
    scores, by_target = {}, {}
    for key, sources in evals.items():
        with recorded_predictions(model) as preds:
            scores.update(evaluate_lm(model, {key: sources}, task, cfg, [int(key[5:])], rt=rt))
        right = targets_right(preds, sources, task, cfg.synthetic.vocab_size, cfg.evaluate.batch_size)  # (N, targets)
        by_target[key[5:]] = np.round(right.mean(0), 4).tolist()
    return scores, by_target


def run(cfg: config.Config, pe: str, task: str, seed: int, n_spike: int, share: float,
        grid: tuple[int, ...]) -> dict:
    """Train one model on the spiked draw and score it at every n of the grid."""
    splits = sweep_splits(cfg, task, sweep_data(task))
    rt, drawn = resolve(cfg.runtime.dtype), []
    start = time.perf_counter()
    with spiked(n_spike, share, drawn):
        out = train_lm(cfg, pe, task, splits, seed, progress=False, rt=rt)
    trained = time.perf_counter() - start
    scores, by_target = scored(out["model"], grid_splits(cfg, task, grid), task, cfg, rt)
    return {"pe": pe, "task": task, "seed": seed, "spike": n_spike, "share": share, "dtype": rt.dtype,
            "cpu_model": cpu_model(), "train_wall_s": round(trained, 1), "steps": len(drawn),
            "steps_at": steps_at(drawn, grid), "checks": out["checks"],
            "grid": {str(n): {**{k: scores[str(synthetic.total_length(task, n))][k] for k in ("token_acc", "exact_match")},
                              "by_target": by_target[str(synthetic.total_length(task, n))]} for n in grid}}


def table(doc: dict, task: str, metric: str = "exact_match") -> str:
    """The runs of one task in a length_spike.json as a markdown table: a row per source length n, a column per run,
    exact match (%) with its 95 % Wilson interval over the n's evaluation sequences (or token accuracy,
    without one: a sequence's targets are not independent), and the steps each n was drawn (they depend
    on the seed, spike, share and changed params only: the PE does not change the draws)."""
    runs = {tag: r for tag, r in doc["runs"].items() if r["task"] == task}
    sizes = {id(r): changed(config.load(doc["params"]), [f"{k}={v}" for k, v in r["set"].items()])[0].synthetic.eval_size
             for r in runs.values()}  # sequences per n, as the run's params had it
    grid = sorted({int(n) for r in runs.values() for n in r["grid"]})
    draws = {tagged(f"s{r['seed']} n{r['spike']} p{r['share']:g}", r["set"]): r["steps_at"] for r in runs.values()}
    head = ["n (tokens)", *(f"steps {d}" for d in draws), *runs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in grid:
        cells = [f"{n} ({synthetic.total_length(task, n)})",
                 *(str(at.get(str(n), "")) for at in draws.values())]
        for r in runs.values():
            v, size = r["grid"].get(str(n)), sizes[id(r)]
            if v and metric == "exact_match":
                lo, hi = proportion_interval(round(v[metric] * size), size)
                cells.append(f"{100 * v[metric]:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]")
            else:
                cells.append(f"{100 * v[metric]:.1f}" if v else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def by_target(doc: dict, task: str) -> str:
    """The runs of one task that kept each target's accuracy, as a markdown table: a row per run and source
    length n, with the accuracy (%) at the first target, at the lowest one (and its index, 1-based), at the
    last, and over all targets (a run from before "by_target" was kept has no rows)."""
    lines = ["| run | n (tokens) | first target | lowest (target) | last target | all targets |", "|---|---|---|---|---|---|"]
    for tag, r in ((t, r) for t, r in doc["runs"].items() if r["task"] == task):
        for n, v in sorted((int(n), v) for n, v in r["grid"].items() if "by_target" in v):
            acc = v["by_target"]
            low = min(range(len(acc)), key=acc.__getitem__)
            lines.append(f"| {tag} | {n} ({synthetic.total_length(task, n)}) | {100 * acc[0]:.1f} | "
                         f"{100 * acc[low]:.1f} ({low + 1}) | {100 * acc[-1]:.1f} | {100 * v['token_acc']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pe", nargs="?", help="the PE to train (not with --table)")
    ap.add_argument("--spike", type=int, default=95, help="the source length n given the extra steps")
    ap.add_argument("--share", type=float, help="share of the steps after the curriculum at --spike (required to train)")
    ap.add_argument("--grid", type=int, nargs="+", default=list(GRID), help="source lengths n to score")
    ap.add_argument("--table", choices=["exact_match", "token_acc", "by_target"],
                    help="print the runs of --out as a markdown table of this metric (by_target: the accuracy "
                         "at the first, lowest and last target); train nothing")
    args = run_args(ap, "params.yaml", "bench/length_spike.json").parse_args()
    if args.table:
        doc = io.read_json(args.out)
        for task in dict.fromkeys(r["task"] for r in doc["runs"].values()):
            text = by_target(doc, task) if args.table == "by_target" else table(doc, task, args.table)
            print(f"**{task}**\n\n{text}\n")
        return
    if args.pe is None or args.share is None:
        ap.error("a run needs a PE and --share")
    cfg, done = changed(config.load(args.params), args.items)
    grid = tuple(sorted(set(args.grid)))
    check(cfg, args.task, args.spike, args.share, grid)
    result = {**run(cfg, args.pe, args.task, args.seed, args.spike, args.share, grid), "set": done}
    tag = tagged(f"{args.pe}-{args.task}-s{args.seed}-n{args.spike}-p{args.share:g}", done)
    save(args.out, tag, result, args.params)
    said = ", ".join(f"n={n} {v['exact_match']:.3f}" for n, v in result["grid"].items())
    print(f"{tag}: exact match {said}; trained in {result['train_wall_s']:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except ConfigError as e:
        sys.exit(f"error: {e}")
