"""A study part's files: what `python -m posenc.reporting.partial <part> --from <workspace>` copies from a
study workspace (posenc.study) into the part's folder under study/ (`collect`), and what its training
metrics recorded along training (`tracks`), for SUMMARY.md and the report to read.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from posenc import io
from posenc.reporting.results import tracking


def collect(workspace: Path, folder: Path, only: str = "") -> int:
    """Copy from a study workspace (posenc.study) into `folder` what summary() reads: its params.yaml and
    runtime, and the train and eval metrics of every model that has both (and whose name starts with
    `only`), the metrics re-written as compact JSON (same content; the indented per-sequence lists made a
    part four times larger), and the content baselines of their tasks (lookup3 reads them for a task the
    default does not have). Returns the number of models."""
    if not (workspace / "dvc.yaml").is_file() or not (workspace / "metrics/runtime.json").is_file():
        raise FileNotFoundError(f"{workspace}: not a study workspace with a runtime (run `make study` there first)")
    for sub in ("eval", "train"):
        (folder / "metrics" / sub).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(workspace / "params.yaml", folder / "params.yaml")
    shutil.copyfile(workspace / "metrics/runtime.json", folder / "metrics/runtime.json")
    done = [f.name for f in sorted((workspace / "metrics/eval").glob(f"{only}*.json"))
            if (workspace / "metrics/train" / f.name).is_file()]
    for name in done:
        for sub in ("eval", "train"):
            compact(workspace / "metrics" / sub / name, folder / "metrics" / sub / name)
    tasks = {json.loads((folder / "metrics/eval" / name).read_text()).get("task") for name in done}
    for base in [workspace / "metrics/baselines" / f"{t}.json" for t in sorted(filter(None, tasks))]:
        if base.is_file():
            (folder / "metrics/baselines").mkdir(exist_ok=True)
            compact(base, folder / "metrics/baselines" / base.name)
    return len(done)


def compact(src: Path, dest: Path) -> None:
    """`src`'s JSON written to `dest` without indentation (keys sorted, as io.write_json does)."""
    io.write_text(dest, json.dumps(json.loads(src.read_text()), separators=(",", ":"), sort_keys=True) + "\n")


def tracks(folder: Path, seeds: list[int]) -> dict[str, dict[str, dict]]:
    """{task: {pe: results.tracking row}} of the part's synthetic models that have every one of `seeds` and a
    record of extrapolation along training (metrics/train/*.json "tracking")."""
    found: dict[tuple[str, str], dict[int, dict]] = {}
    for f in sorted((folder / "metrics/eval").glob("*.json")):  # the evaluation names the model's task, PE, seed
        e, train = json.loads(f.read_text()), folder / "metrics/train" / f.name
        if {"task", "pe", "seed"} <= set(e) and "lr" not in e and train.is_file():
            tr = json.loads(train.read_text())
            if "tracking" in tr:
                found.setdefault((e["task"], e["pe"]), {})[e["seed"]] = tr
    out: dict[str, dict[str, dict]] = {}
    for (task, pe), by_seed in found.items():
        if all(sd in by_seed for sd in seeds):
            out.setdefault(task, {})[pe] = tracking([by_seed[sd] for sd in seeds])
    return out
