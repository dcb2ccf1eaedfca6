"""Does data/synthetic.py at another commit give the very same data and batches? Evidence for bench/relock.py.

A change to data/synthetic.py makes every training stage stale in dvc.lock, even when it only adds a task
(the start-token format of 2026-12-03). Training and evaluation see that module through four things only:
the prepared arrays (generate, generate_far), the training draws (LengthSampler), the batches (make_batch,
through fixed_batches for evaluation and probes) and the lengths (n_for_length, total_length). This script
loads the module as it was at `--ref` beside the one in the work tree and compares all four for every task
of a params file, seed by seed: every array, every training step's batch of `train.max_steps`, every
evaluation and validation batch. Any difference is an error that names where; equal means a model trained
and scored with either gives the same bytes, whatever the CPU.

    python bench/same_batches.py --ref HEAD~1                 # params.yaml's tasks and seeds
    python bench/same_batches.py --ref HEAD~1 --params study/params.yaml --steps 500
"""

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from posenc import config
from posenc.data import synthetic as new

MODULE = "src/posenc/data/synthetic.py"


def old_module(ref: str):
    """data/synthetic.py as committed at `ref`, imported under another name."""
    text = subprocess.run(["git", "show", f"{ref}:{MODULE}"], check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "synthetic_at_ref.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("synthetic_at_ref", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def same_arrays(a: dict, b: dict, where: str) -> None:
    if a.keys() != b.keys() or any(not np.array_equal(a[k], b[k]) for k in a):
        raise SystemExit(f"error: {where}: the prepared arrays differ")


def same_batches(old, cfg: config.Config, task: str, seed: int, steps: int) -> int:
    """Every training batch of `steps` steps and every evaluation batch; returns the number compared."""
    s, t = cfg.synthetic, cfg.train
    arrays = new.generate(s, task, cfg.seed)
    same_arrays(old.generate(s, task, cfg.seed), arrays, f"{task} generate")
    same_arrays(old.generate_far(s, task, cfg.seed), new.generate_far(s, task, cfg.seed), f"{task} generate_far")
    splits = _splits(arrays)
    samplers = [m.LengthSampler(splits["train"], task, t.batch_size, t.curriculum_start_len, t.curriculum_steps,
                                np.random.default_rng(seed), t.long_share) for m in (old, new)]
    count = 0
    for step in range(steps):
        drawn = [sampler.sample(step) for sampler in samplers]
        if any(not np.array_equal(x, y) for x, y in zip(*drawn)):
            raise SystemExit(f"error: {task} seed {seed} step {step}: the sources drawn differ")
        _same(old.make_batch(drawn[0], task, s.vocab_size), new.make_batch(drawn[1], task, s.vocab_size),
              f"{task} seed {seed} step {step}")
        count += 1
    for name, sources in splits.items():
        if name == "train":
            continue
        for a, b in zip(old.fixed_batches(sources, task, s.vocab_size, cfg.evaluate.batch_size),
                        new.fixed_batches(sources, task, s.vocab_size, cfg.evaluate.batch_size), strict=True):
            _same(a, b, f"{task} {name}")
            count += 1
    for L in range(new.min_length(task), 2 * max(s.far_lengths or s.eval_lengths)):
        if old.n_for_length(task, L) != new.n_for_length(task, L):
            raise SystemExit(f"error: {task}: n_for_length({L}) differs")
    return count


def _splits(arrays: dict) -> dict:
    """{split: Sources} of generate()'s arrays, as synthetic.load reads them from the file."""
    return {k[: -len("_lengths")]: new.Sources(arrays[k].astype(np.int64), arrays[k[: -len("_lengths")] + "_tokens"])
            for k in arrays if k.endswith("_lengths")}


def _same(a: tuple, b: tuple, where: str) -> None:
    if any(not torch.equal(x, y) for x, y in zip(a, b, strict=True)):
        raise SystemExit(f"error: {where}: the batches differ")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", required=True, help="the commit whose data/synthetic.py to compare with")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--steps", type=int, help="training steps to replay (default: train.max_steps)")
    args = ap.parse_args()
    cfg = config.load(args.params)
    old = old_module(args.ref)
    for task in cfg.synthetic.tasks:
        if task not in old.REPEATS:
            print(f"{task}: not a task at {args.ref}, nothing to compare", flush=True)
            continue
        for seed in cfg.seeds:
            n = same_batches(old, cfg, task, seed, args.steps or cfg.train.max_steps)
            print(f"{task} seed {seed}: arrays and {n} batches identical to {args.ref}'s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
