"""Where every pipeline file lives: the one owner of artifact paths.

Stage scripts, the reporting code and the tests ask this module for paths;
dvc.yaml spells the same paths out (DVC needs them literally), and a test
checks that the two agree. A model is named by its task ("copy",
"duplicate", or IMDB), its PE and its training seed: `<task>_<pe>_s<seed>`. Paths are relative to the
repository root, or to `root` when one is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

IMDB = "imdb"  # the task name of the IMDb classifiers


@dataclass(frozen=True)
class Layout:
    root: Path = Path(".")

    # ------------------------------------------------------------ data
    def synthetic_data(self, task: str) -> Path:
        return self.root / "data/synthetic" / f"{task}.npz"

    def far_data(self, task: str) -> Path:  # evaluation sets at synthetic.far_lengths (evaluation only)
        return self.root / "data/synthetic_far" / f"{task}.npz"

    @property
    def imdb_data(self) -> Path:  # tokenizer.json and {train,val,test}.npz
        return self.root / "data/imdb"

    @property
    def imdb_summary(self) -> Path:
        return self.root / "metrics/imdb_data.json"

    @property
    def runtime(self) -> Path:  # the resolved device and precision (stage runtime)
        return self.root / "metrics/runtime.json"

    def baselines(self, task: str) -> Path:  # content-matching rules on the evaluation sets (no model)
        return self.root / "metrics/baselines" / f"{task}.json"

    # ------------------------------------------------------------ one model each
    def checkpoint(self, task: str, pe: str, seed: int = 0) -> Path:
        return self.root / "models" / f"{model_name(task, pe, seed)}.pt"

    def resume(self, task: str, pe: str, seed: int, key: str) -> Path:  # outside every output (engine/resume.py)
        return self.root / ".resume" / f"{model_name(task, pe, seed)}-{key}.pt"

    def timing(self, task: str, pe: str, seed: int = 0) -> Path:  # wall time and tokens/s: tracked by neither git nor DVC
        return self.root / "timings" / f"{model_name(task, pe, seed)}.json"

    def train_log(self, task: str, pe: str, seed: int = 0) -> Path:
        return self.root / "metrics/train" / f"{model_name(task, pe, seed)}.json"

    def live_dir(self, task: str, pe: str, seed: int = 0) -> Path:
        return self.root / "metrics/live" / model_name(task, pe, seed)

    def eval_json(self, task: str, pe: str, seed: int = 0) -> Path:
        return self.root / "metrics/eval" / f"{model_name(task, pe, seed)}.json"

    def probe_json(self, task: str, pe: str, seed: int = 0) -> Path:
        return self.root / "metrics/probe" / f"{model_name(task, pe, seed)}.json"

    def attention_maps(self, task: str, pe: str, seed: int = 0) -> Path:
        return self.root / "data/probes" / f"{model_name(task, pe, seed)}.npz"

    # ------------------------------------------------------------ gathered over every model
    @property
    def results(self) -> Path:
        return self.root / "metrics/results.json"

    @property
    def headline(self) -> Path:  # the only DVC metrics file: a few numbers per PE
        return self.root / "metrics/headline.json"

    @property
    def profile(self) -> Path:  # written by `make bench`, not by dvc repro (timings change every run)
        return self.root / "bench/profile.json"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def review_figure(self) -> Path:  # shows review text: DVC-cached, never in git (stage plot_reviews)
        return self.root / "reviews" / "imdb_attention.png"

    @property
    def report(self) -> Path:
        return self.root / "REPORT.md"


def model_name(task: str, pe: str, seed: int = 0) -> str:
    return f"{task}_{pe}_s{seed}"


def sweep_name(pe: str, lr: float) -> str:
    """The name of `pe` trained at learning rate `lr` (the learning-rate sweep, stage train_lr), used in
    place of a PE name in every per-model path: rope + 0.004 -> rope_lr0.004 (the float as dvc.yaml's
    `${item.lr}` prints it)."""
    return f"{pe}_lr{float(lr)}"


def models(tasks, pes, seeds, imdb: bool = True) -> list[tuple[str, str, int]]:
    """(task, pe, seed) of every trained model: each synthetic task x PE x seed, then the IMDb classifiers."""
    return [(t, pe, seed) for t in (*tasks, *((IMDB,) if imdb else ())) for pe in pes for seed in seeds]


PER_MODEL_DIRS = ("models", "metrics/train", "metrics/eval", "metrics/probe", "metrics/live", "data/probes", "timings")


def _model_of(file_name: str) -> str:
    """The model name of a per-model file or folder (a sweep name holds a dot: rope_lr0.004)."""
    for ext in (".json", ".npz", ".pt"):
        file_name = file_name.removesuffix(ext)
    return file_name


def stale(layout: Layout, names) -> list[Path]:
    """Per-model files and folders whose model is not one of `names` (e.g. a PE or seed dropped from
    params.yaml): DVC no longer tracks them, nothing reads them, and they would mislead a reader."""
    keep = set(names)
    found = []
    for folder in PER_MODEL_DIRS:
        d = layout.root / folder
        if d.is_dir():
            found += [p for p in sorted(d.iterdir()) if _model_of(p.name) not in keep]
    return found
