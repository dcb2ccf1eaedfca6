"""Generated reviews in the original aclImdb layout, for the tests and `make quick`
(no real review text ever enters the repo)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

POS = ["great", "superb", "moving", "brilliant", "fun", "loved", "charming", "wonderful"]
NEG = ["awful", "boring", "dull", "terrible", "waste", "hated", "clumsy", "tedious"]
FILLER = ["the", "film", "plot", "actor", "scene", "camera", "story", "music", "and", "was", "a", "it"]


def review(rng: np.random.Generator, label: int, n_words: int) -> str:
    """Mostly neutral filler with sentiment words sprinkled in; an HTML break like the real data."""
    cue = POS if label else NEG
    words = [str(rng.choice(cue)) if rng.random() < 0.15 else str(rng.choice(FILLER)) for _ in range(n_words)]
    half = len(words) // 2
    return " ".join(words[:half]) + " <br /><br /> " + " ".join(words[half:]) + "."


def write_folder(root: Path, per_class: int = 24, seed: int = 0, max_words: int = 60) -> Path:
    """root/aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt, lengths from 3 to max_words words."""
    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        for label, name in ((0, "neg"), (1, "pos")):
            d = root / "aclImdb" / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                rating = int(rng.integers(7, 11) if label else rng.integers(1, 5))
                (d / f"{i}_{rating}.txt").write_text(review(rng, label, int(rng.integers(3, max_words))))
    (root / "aclImdb" / "README").write_text("generated test data\n")
    return root / "aclImdb"


def write_archive(path: Path, **kw) -> Path:
    src = write_folder(path.parent / "fake_src", **kw)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(src, arcname="aclImdb")
    return path
