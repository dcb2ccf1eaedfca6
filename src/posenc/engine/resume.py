"""Resumable training: a killed training stage continues from its last periodic snapshot (issue 17).

DVC deletes a stage's outputs before running it, and `persist: true` would turn off the run-cache,
so the snapshot lives outside the outputs, in `.resume/` (ignored by git and DVC), named by the model
and by a key over everything the stage's result depends on (its params, the data file, the code of
the package): a snapshot of another configuration is never picked up. It holds the model, the
optimizer, the step, the training logs and every random generator state, so the resumed run is
byte-identical to an uninterrupted one. It is removed when the stage succeeds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from posenc import io


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def code_digest(package: Path) -> str:
    """sha256 over the package's source files (a code change invalidates every snapshot)."""
    h = hashlib.sha256()
    for p in sorted(Path(package).rglob("*.py")):
        h.update(p.relative_to(package).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def resume_key(params: dict, data_files: list[Path], package: Path) -> str:
    """A short key over the stage's params, its data files and the package's code."""
    blob = json.dumps({"params": params, "data": [file_digest(p) for p in data_files],
                       "code": code_digest(package)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Snapshots:
    """Save, load and remove one training's snapshot at `path` (None: resuming is off)."""

    def __init__(self, path: Path | None, every: int):
        self.path, self.every = (Path(path) if path else None), every

    def due(self, step: int) -> bool:
        return self.path is not None and self.every > 0 and step % self.every == 0

    def save(self, state: dict) -> None:
        io.write_bytes(self.path, io.torch_bytes(state))

    def load(self) -> dict | None:
        if self.path is None or not self.path.is_file():
            return None
        try:
            return torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception:  # noqa: BLE001 - a torn or foreign snapshot: start over, never fail on it
            return None

    def done(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
