"""`make study`: the study configuration (study/params.yaml), run in its own DVC workspace, results copied to study/.

The study is a strict superset of the default (params.yaml): the same model shape, recipe, steps,
data and evaluation sets; more PEs, seeds and tasks (tests/test_study.py checks it). It runs the
very same dvc.yaml in a kept workspace outside this checkout (STUDY_DIR, default
~/.cache/posenc-study), so:

- an interrupted study resumes where it stopped (finished stages are skipped), and any part can run
  alone: `python -m posenc.study train@copy-rope-1` reproduces that stage and what it needs;
- with a DVC cache shared with this checkout (`dvc config --global cache.dir ...`), DVC's run-cache
  restores the default's models (the study's seed-0 models of the default PEs) instead of retraining:
  `dvc repro` records no run-cache for stages with `cache: false` outputs, so the checkout's up-to-date
  stages are recorded first, and the workspace's after every run, finished or not (posenc.runcache);
- `dvc status` and `dvc exp show` of this checkout stay about the default alone (a second dvc.yaml in
  the repository would be collected by both).

When `dvc repro` finishes, its lock, params, metrics, figures and REPORT.md are copied to study/ and
committed there beside the default's. One `dvc repro` per machine writes one lock; DVC runs the stages
one after another (see the README for running parts on several machines).

    python -m posenc.study [stage ...]        # what `make study` runs
    STUDY_PARAMS=study/gpu_12k/params.yaml STUDY_DIR=~/.cache/posenc-study-12k python -m posenc.study ...
                                              # another part's configuration (results beside its params)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import yaml

from posenc import config, runcache, workspace
from posenc.errors import PosencError

STUDY_PARAMS = Path("study/params.yaml")


def archive_env(root: Path, params: dict) -> None:
    """The workspace lives elsewhere: point IMDB_ARCHIVE at this checkout's archive (params stay as they are,
    so that the study's prepare_imdb is the default's)."""
    archive = root / params["imdb"]["archive"]
    if not os.environ.get("IMDB_ARCHIVE") and archive.exists():
        os.environ["IMDB_ARCHIVE"] = str(archive.resolve())


def record(root: Path, what: str) -> None:
    """Record the run-cache of every up-to-date stage at `root` (none if it has no lock yet)."""
    from dvc.exceptions import DvcException

    if not (root / "dvc.lock").is_file():
        return
    try:
        saved, skipped = runcache.save(root)
    except DvcException as e:  # for example a `dvc repro` holding that repo's lock: the study goes on without
        print(f"run-cache: not recorded for {what}: {e}", file=sys.stderr, flush=True)
        return
    print(f"run-cache: {saved} up-to-date stages of {what} recorded ({skipped} left out)", flush=True)


def main(argv: list[str]) -> int:
    root = Path.cwd()
    params_file = root / (os.environ.get("STUDY_PARAMS") or STUDY_PARAMS)  # e.g. study/gpu_12k/params.yaml
    try:
        config.load(params_file)  # a bad study/params.yaml fails here, before any work
    except PosencError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    dest = Path(os.environ.get("STUDY_DIR") or Path.home() / ".cache/posenc-study").resolve()
    print(f"study workspace: {dest} (kept: a rerun resumes)", flush=True)
    params = yaml.safe_load(params_file.read_text())
    archive_env(root, params)
    workspace.prepare(root, dest, params, fresh=False)
    record(root, "this checkout (the default)")
    start = time.perf_counter()
    rc = workspace.repro(dest, *argv)
    took = time.perf_counter() - start
    record(dest, "the study workspace")  # also after a stop: every finished model is kept
    if rc:
        print(f"study stopped after {took:.0f} s (exit {rc}); rerun to resume: {dest}", file=sys.stderr)
        return rc
    if argv:
        print(f"stages done in {took:.0f} s (results are copied to {params_file.parent} after a full run)")
        return 0
    copied = workspace.collect(dest, params_file.parent)  # study/, or study/gpu_12k/ beside its params
    print(f"study done in {took:.0f} s; copied {', '.join(copied)} to {params_file.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
