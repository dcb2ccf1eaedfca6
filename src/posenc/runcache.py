"""Record DVC run-cache entries for every up-to-date stage of a workspace, so that another workspace sharing
the cache (`dvc config --global cache.dir ...`) restores those stages instead of rerunning them.

Why this is needed: `dvc repro` skips its run-cache for any stage with a `cache: false` output that is
not declared as a metric or plot (DVC 3.x, `Stage.run`: `save(run_cache=not no_cache_outs)`). Every
training, evaluation and probe stage here writes such outputs (its per-model JSON and DVCLive folder,
kept in git so a clone can read them), so after `dvc repro` the run-cache holds only prepare_synthetic.
`dvc commit` does save the run-cache, but `dvc commit -f` would also record stale outputs as fresh;
this saves only stages whose dependencies, params and outputs all match the lock (`Stage.changed()` is
False). Saving copies the `cache: false` outputs into the cache too, so a restore brings them back.

    python -m posenc.runcache [workspace]     # default: the current folder; `make repro` runs it
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path


def save(root: Path) -> tuple[int, int]:
    """Save a run-cache entry for each up-to-date stage of the DVC repo at `root`;
    -> (stages saved, stages left out because they changed or never ran)."""
    from dvc.repo import Repo

    saved = skipped = 0
    # DVC builds the cached stage from the relative path "dvc.yaml": it must run inside the repo
    with contextlib.chdir(root), Repo(str(root)) as repo, repo.lock:
        for stage in repo.index.stages:
            if not stage.cmd or not stage.outs:  # nothing to restore: DVC keeps no entry for it
                continue
            if stage.changed():  # stale or missing outputs: never recorded as the result of these inputs
                skipped += 1
                continue
            repo.stage_cache.save(stage)
            saved += 1
    return saved, skipped


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else ".").resolve()
    if not (root / "dvc.yaml").is_file():
        print(f"error: {root / 'dvc.yaml'}: no DVC pipeline here", file=sys.stderr)
        return 2
    saved, skipped = save(root)
    print(f"run-cache: recorded {saved} up-to-date stages of {root} ({skipped} changed or not run, left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
