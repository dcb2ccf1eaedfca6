"""Atomic writers and readers with one error path.

Every output is written to a temporary name in the same folder and renamed
into place, so a failure never leaves a half-written file; the result gets
the ordinary permissions a new file would (umask applied), not mkstemp's 0600.
"""

from __future__ import annotations

import io as _io
import json
import os
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from posenc.errors import DataError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path, suffix: str = ""):
    """Yield a temporary path next to `path`; rename it onto `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj) -> None:
    """Sorted keys, fixed float repr: the same object gives the same bytes."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n")


def read_json(path) -> dict:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: unreadable JSON ({type(e).__name__})") from None


def torch_bytes(obj) -> bytes:
    """torch.save into memory. Saving to a file records the file's (random, temporary) name inside the
    zip archive, so identical weights gave different bytes; in memory the archive is always named 'archive'."""
    import torch  # local: the data-only stages never load torch

    buf = _io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def save_npz(path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)


def load_npz(path, what: str, hint: str) -> dict[str, np.ndarray]:
    """Every array of an .npz; a missing or corrupt file is a one-line DataError naming it, what it is and the fix."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} not found ({hint})")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(f"{path}: corrupt {what} ({type(e).__name__})") from None
