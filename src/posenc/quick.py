"""`make quick`: the whole pipeline (every stage, every figure, the report) on a tiny configuration.

It runs `dvc repro` in a fresh folder outside the repository (printed at the start and the end;
QUICK_DIR overrides it), holding a copy of the code and params.yaml shrunk by `quick_params`, so the
committed results are never touched. IMDb: the real archive when it is found (IMDB_ARCHIVE or
imdb.archive), cut to `QUICK_REVIEWS` reviews per split, else a small generated review set; the
run says which. The tests use the same shrunk configuration.

    python -m posenc.quick            # what `make quick` runs
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

from posenc import workspace

QUICK_REVIEWS = 400  # per split, when the real archive is used
QUICK_PES = 3  # the first PEs of params.yaml (sinusoidal, learned, rope in the default): ~9 stages, ~45 s each


def quick_params(data: dict) -> dict:
    """params.yaml shrunk so that every stage runs in seconds (same keys, smaller values)."""
    data = yaml.safe_load(yaml.safe_dump(data))  # a deep copy
    # The cost of a tiny run is the ~5 s of process start and DVC bookkeeping per stage, not compute:
    # fewer models is the one lever left (the stages' code paths are the same for every PE).
    data["pes"] = data["pes"][:QUICK_PES]
    data["synthetic"].update(train_max_len=16, train_size=300, val_size=4, eval_size=4,
                             eval_lengths=[16, 32], curve_lengths=[24], far_lengths=[48])
    data["model"].update(n_layers=1, d_model=16, n_heads=4, max_positions=48)  # the study's 4 heads: a PE's per-head params (hard_alibi's windows) fit
    data["train"].update(batch_size=4, max_steps=6, check_every=3, track_every=3, track_size=2, log_every=2,
                         resume_every=2,
                         curriculum_steps=3,
                         curriculum_start_len=8)
    data["evaluate"].update(batch_size=4)
    data["probe"].update(lengths=[16, 32], batch_size=2, map_lengths=[16, 32])
    data["profile"].update(lengths=[16, 32], batch_size=2, warmup=1, repeats=2, matmul_size=64)
    data["imdb"].update(tokenizer_vocab=300, min_frequency=1, val_frac=0.25, train_max_len=16,
                        eval_lengths=[16, 32], bucket_edges=[16, 32], epochs=2, batch_size=4)
    return data


def imdb_source(root: Path, params: dict, dest: Path) -> tuple[dict, str]:
    """imdb params for the quick run, and a line saying which reviews it reads."""
    from posenc.data.fake_imdb import write_archive

    real = Path(os.environ.get("IMDB_ARCHIVE") or root / params["imdb"]["archive"])
    if real.exists():
        return ({"archive": str(real.resolve()), "max_reviews": QUICK_REVIEWS},
                f"IMDb: {real} ({QUICK_REVIEWS} reviews per split)")
    fake = write_archive(dest / "generated_imdb" / "aclImdb_v1.tar.gz")
    return {"archive": str(fake)}, f"IMDb: no archive found at {real}: generated reviews ({fake})"


def prepare(root: Path, dest: Path) -> str:
    """A fresh workspace (posenc.workspace) with the quick params; returns the IMDb line."""
    params = quick_params(yaml.safe_load((root / "params.yaml").read_text()))
    imdb, line = imdb_source(root, params, dest.parent / f"{dest.name}-imdb")
    params["imdb"].update(url="", hub_dataset="", **imdb)
    workspace.prepare(root, dest, params)
    return line


def main() -> int:
    root = Path.cwd()
    dest = Path(os.environ.get("QUICK_DIR") or Path(tempfile.gettempdir()) / "posenc-quick").resolve()
    print(f"quick run in {dest}", flush=True)
    start = time.perf_counter()
    print(prepare(root, dest), flush=True)
    rc = workspace.repro(dest, keep_archive_env=False)  # the quick params name the archive
    took = time.perf_counter() - start
    if rc:
        print(f"quick run failed after {took:.0f} s (exit {rc}); its folder: {dest}", file=sys.stderr)
        return rc
    print(f"quick run done in {took:.0f} s: {dest}/REPORT.md, {dest}/figures/, {dest}/metrics/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
