"""A separate DVC workspace running this repository's pipeline with other params (make quick, make study).

The folder holds a copy of the code, dvc.yaml and a params.yaml of its own, as its own git + DVC
repo, so the committed results of this checkout are never touched. The stage commands, dependency
paths and (for the study) the shared params sections are those of the default pipeline, so a DVC
cache shared with this checkout (`dvc config --global cache.dir ...`) lets the run-cache restore any
stage the default already ran, byte for byte. A kept folder resumes: finished stages are skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

CODE = ("src", "stages", "templates")
NO_PARTS = "No parts of the study here: the `report` stage depends on this folder and finds none.\n"
FILES = ("dvc.yaml", ".dvcignore")
GIT_ENV = {"GIT_AUTHOR_NAME": "posenc", "GIT_AUTHOR_EMAIL": "posenc@localhost",
           "GIT_COMMITTER_NAME": "posenc", "GIT_COMMITTER_EMAIL": "posenc@localhost"}


def _git(dest: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=dest, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


def prepare(root: Path, dest: Path, params: dict, ignore: str = "", fresh: bool = True) -> None:
    """Make (fresh) or update (kept) the workspace at `dest`: code, dvc.yaml and `params`, committed."""
    if fresh and dest.exists():
        shutil.rmtree(dest)
    new = not (dest / ".dvc").is_dir()
    dest.mkdir(parents=True, exist_ok=True)
    for name in CODE:
        shutil.rmtree(dest / name, ignore_errors=True)
        shutil.copytree(root / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.rmtree(dest / "study", ignore_errors=True)
    (dest / "study").mkdir()  # the report's parts of the study: none here (a workspace is a whole run of its own),
    (dest / "study/README.md").write_text(NO_PARTS)  # and a file, so that git (and `dvc exp run`) keeps the folder
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (dest / ".gitignore").write_text("/data/\n/models/\n/timings/\n__pycache__/\n" + ignore)
    if new:
        _git(dest, "init", "-q")
        subprocess.run([sys.executable, "-m", "dvc", "init", "-q", "-f"], cwd=dest, check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "dvc", "config", "core.analytics", "false"], cwd=dest, check=True,
                       capture_output=True)
    for name in FILES:  # after `dvc init`, which writes its own .dvcignore
        shutil.copy(root / name, dest / name)
    _git(dest, "add", "-A")
    _git(dest, "commit", "-qm", "workspace", "--allow-empty")


def repro(dest: Path, *targets: str, keep_archive_env: bool = True) -> int:
    """`dvc repro` in the workspace with its own code on PYTHONPATH; the exit code."""
    env = {**os.environ, "PYTHONPATH": str(dest / "src"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    if not keep_archive_env:
        env.pop("IMDB_ARCHIVE", None)
    return subprocess.run([sys.executable, "-m", "dvc", "repro", *targets], cwd=dest, env=env).returncode


RESULTS = ("dvc.lock", "params.yaml", "REPORT.md", "metrics", "figures")


def collect(dest: Path, out: Path) -> list[str]:
    """Copy a finished workspace's results (lock, params, report, metrics, figures) into `out`,
    replacing what was there; returns what was copied."""
    copied = []
    for name in RESULTS:
        src, dst = dest / name, out / name
        if not src.exists():
            continue
        if dst.is_dir():
            shutil.rmtree(dst)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst)
        copied.append(name)
    return copied
