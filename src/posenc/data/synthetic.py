"""Copy and duplicate tasks for decoder-only models, in two formats.

Vocabulary: content tokens 0..V-1, then SEP = V, PAD = V + 1 and BLANK = V + 2.

Teacher-forced (the model sees the previous target token, so it may copy by matching content):
    copy:             a1 .. an SEP a1 .. an             total length 2n + 1
    duplicate:        a1 .. an SEP a1 .. an a1 .. an    total length 3n + 1
    targets: next-token predictions from SEP onwards.
The brief's own format (issue 15): the outputs are read at placeholder positions, so the model
never sees a target token and can find a_k only by position:
    copy_blank:       a1 .. an SEP BLANK x n            -> a1 .. an read at the n BLANK positions
    duplicate_blank:  a1 .. an SEP BLANK x 2n           -> a1 .. an a1 .. an
(the placeholder has its own id: 0 is a content token here). Same lengths, same metrics.
With a start token (issue 16: hard_alibi_ngram's slips at copy index 1, docs/study.md "A start token closes the gap"):
    copy_start:       SEP a1 .. an SEP a1 .. an         total length 2n + 2
    duplicate_start:  SEP a1 .. an SEP a1 .. an a1 .. an
a teacher-forced task with SEP in front, so that the first source token, like every other, has a token
before it; same targets, one position later. A *_start task draws the same sources as its plain task
(one RNG stream), so the two differ in the start token alone and compare pair by pair.

The model reads the whole sequence (so a sequence of L tokens uses positions
0..L-1); loss and metrics count only target positions.

Data sets are stored as ragged source sequences (`<split>_lengths`, `<split>_tokens`)
in one .npz per task; the task format is applied when batching.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from posenc import io
from posenc.config import SyntheticConfig, min_length
from posenc.errors import ConfigError, DataError

IGNORE = -100  # label value that cross_entropy skips
REPEATS = {"copy": 1, "duplicate": 2, "copy_blank": 1, "duplicate_blank": 2,
           "copy_start": 1, "duplicate_start": 2}  # copies of the source after SEP
# RNG streams: the two formats of the brief draw their own sources; a start-token task shares its plain task's
TASK_IDS = {"copy": 0, "duplicate": 1, "copy_blank": 2, "duplicate_blank": 3, "copy_start": 0, "duplicate_start": 1}
SPLIT_IDS = {"train": 0, "val": 1, "eval": 2}


def sep_id(vocab_size: int) -> int:
    return vocab_size


def pad_id(vocab_size: int) -> int:
    return vocab_size + 1


def blank_id(vocab_size: int) -> int:
    return vocab_size + 2


def model_vocab(vocab_size: int) -> int:
    """Embedding rows of every LM: content, SEP, PAD, BLANK."""
    return vocab_size + 3


def is_blank(task: str) -> bool:
    """The brief's format: outputs read at placeholder positions, no teacher forcing."""
    return task.endswith("_blank")


def has_start(task: str) -> bool:
    """A start token (SEP) in front of the source."""
    return task.endswith("_start")


def total_length(task: str, n: int) -> int:
    return n * (1 + REPEATS[task]) + 1 + has_start(task)


def n_for_length(task: str, length: int) -> int:
    """Largest source length n whose sequence fits in `length` tokens."""
    if length < min_length(task):
        raise ConfigError(f"length {length} is impossible for task {task!r}: it needs at least {min_length(task)}")
    return (length - 1 - has_start(task)) // (1 + REPEATS[task])


@dataclass(frozen=True)
class Sources:
    """Ragged source sequences: example i is tokens[offsets[i]:offsets[i] + lengths[i]]."""

    lengths: np.ndarray  # (N,) int64
    tokens: np.ndarray  # (sum lengths,) uint8/int16

    def __post_init__(self):
        object.__setattr__(self, "offsets", np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64))

    def __len__(self) -> int:
        return len(self.lengths)

    def get(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i] : self.offsets[i + 1]]


def _random_sources(rng: np.random.Generator, lengths: np.ndarray, vocab_size: int) -> Sources:
    dtype = np.uint8 if vocab_size + 2 <= 256 else np.int16
    tokens = rng.integers(0, vocab_size, size=int(lengths.sum()), dtype=np.int64).astype(dtype)
    return Sources(lengths=lengths.astype(np.int64), tokens=tokens)


def narrowed(sources: Sources, share: float, sizes: tuple[int, ...], vocab_size: int, seed: int) -> Sources:
    """A curriculum of hard distractors: `share` of the sequences re-spelt over a random alphabet each
    (token -> alphabet[token % k], k drawn from `sizes`; uniform when k divides the vocabulary). A query
    then meets earlier n-grams that share its last two or three tokens far more often than over the full
    vocabulary, which is where a short content lookup slips. Training pools only: evaluation sets never
    change. The stream depends on `seed` (the data seed) alone, so every training seed sees the same pool."""
    rng = np.random.default_rng([seed, 16])
    tokens = sources.tokens.astype(np.int64)
    for i in np.flatnonzero(rng.random(len(sources)) < share):
        a, b = sources.offsets[i], sources.offsets[i + 1]
        k = sizes[0] if len(sizes) == 1 else sizes[rng.integers(len(sizes))]  # one size: no draw
        tokens[a:b] = rng.choice(vocab_size, size=k, replace=False)[tokens[a:b] % k]
    return Sources(lengths=sources.lengths, tokens=tokens.astype(sources.tokens.dtype))


def _rng(seed: int, task: str, split: str, extra: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, TASK_IDS[task], SPLIT_IDS[split], extra])


def generate(cfg: SyntheticConfig, task: str, seed: int) -> dict[str, np.ndarray]:
    """All splits of one task as arrays for np.savez: train (n uniform over what
    fits in train_max_len), val (at train_max_len, for the stop rule), and one
    eval split per length in eval_lengths + curve_lengths."""
    n_max = n_for_length(task, cfg.train_max_len)
    arrays = {}
    rng = _rng(seed, task, "train")
    splits = {"train": _random_sources(rng, rng.integers(1, n_max + 1, size=cfg.train_size), cfg.vocab_size)}
    rng = _rng(seed, task, "val")
    splits["val"] = _random_sources(rng, np.full(cfg.val_size, n_max), cfg.vocab_size)
    splits.update(_eval_splits(cfg, task, seed, eval_lengths(cfg)))
    return _arrays(splits, cfg.vocab_size, task)


def generate_far(cfg: SyntheticConfig, task: str, seed: int) -> dict[str, np.ndarray]:
    """The evaluation splits at far_lengths (2048, 4096 in the study), in a file of their own so that the
    training data, which every train stage depends on, is the same whatever far_lengths holds."""
    return _arrays(_eval_splits(cfg, task, seed, list(cfg.far_lengths)), cfg.vocab_size, task)


def _eval_splits(cfg: SyntheticConfig, task: str, seed: int, lengths: list[int]) -> dict[str, Sources]:
    # One generator per length: a length's sequences never depend on which other lengths exist.
    return {f"eval_{L}": _random_sources(_rng(seed, task, "eval", L), np.full(cfg.eval_size, n_for_length(task, L)),
                                         cfg.vocab_size) for L in lengths}


def _arrays(splits: dict[str, Sources], vocab_size: int, task: str) -> dict[str, np.ndarray]:
    arrays = {}
    for name, src in splits.items():
        arrays[f"{name}_lengths"] = src.lengths
        arrays[f"{name}_tokens"] = src.tokens
    arrays["vocab_size"] = np.array(vocab_size)
    arrays["task"] = np.array(task)
    return arrays


def eval_lengths(cfg: SyntheticConfig, far: bool = False) -> list[int]:
    """The lengths with evaluation sets: eval_lengths and curve_lengths (and far_lengths when `far`)."""
    return sorted(set(cfg.eval_lengths) | set(cfg.curve_lengths) | (set(cfg.far_lengths) if far else set()))


def load(path: str | Path, task: str, vocab_size: int, train: bool = True) -> dict[str, Sources]:
    """Read a prepared .npz (`train`: one with the train/val splits); any missing, corrupt or mismatched file
    is a DataError."""
    path = Path(path)
    arrays = io.load_npz(path, "prepared data", "run `dvc repro prepare_synthetic`")
    if str(arrays.get("task")) != task or int(arrays.get("vocab_size", -1)) != vocab_size:
        raise DataError(f"{path}: holds task {arrays.get('task')!s}, vocab {arrays.get('vocab_size')!s}; "
                        f"expected {task}, vocab {vocab_size} (re-run prepare_synthetic)")
    splits = {}
    for key in arrays:
        if key.endswith("_lengths"):
            name = key[: -len("_lengths")]
            tokens = arrays.get(f"{name}_tokens")
            if tokens is None or int(arrays[key].sum()) != len(tokens) or (tokens >= vocab_size).any():
                raise DataError(f"{path}: split {name!r} is inconsistent (re-run prepare_synthetic)")
            splits[name] = Sources(arrays[key].astype(np.int64), tokens)
    if train and ("train" not in splits or "val" not in splits):
        raise DataError(f"{path}: missing train/val splits (re-run prepare_synthetic)")
    return splits


def load_for_eval(path: str | Path, task: str, cfg: SyntheticConfig,
                  far: str | Path | None = None) -> dict[str, Sources]:
    """load(), plus the far_lengths file `far` when given, and check that every evaluation length of `cfg`
    has its split."""
    splits = load(path, task, cfg.vocab_size)
    if far is not None:
        splits.update(load(far, task, cfg.vocab_size, train=False))
    missing = [L for L in eval_lengths(cfg, far=far is not None) if f"eval_{L}" not in splits]
    if missing:
        raise DataError(f"{path}: no evaluation split for lengths {missing} (re-run prepare_synthetic)")
    return splits


def make_batch(sources: list[np.ndarray], task: str, vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Format, right-pad and label a list of sources.

    Returns idx (B, T) and labels (B, T), IGNORE off the targets; T is the longest sequence in
    the batch. Teacher-forced: labels[b, t] is the token at t + 1 when that token comes after
    the middle SEP. Blank: labels[b, t] is the source token due at BLANK position t.
    """
    targets = [np.concatenate([s] * REPEATS[task]) for s in sources]  # what follows SEP
    after = [np.full(len(t), blank_id(vocab_size)) if is_blank(task) else t for t in targets]
    start = [sep_id(vocab_size)] * has_start(task)  # [] or [SEP]
    seqs = [np.concatenate([start, s, [sep_id(vocab_size)], a]) for s, a in zip(sources, after)]
    T = max(len(s) for s in seqs)
    idx = np.full((len(seqs), T), pad_id(vocab_size), dtype=np.int64)
    labels = np.full((len(seqs), T), IGNORE, dtype=np.int64)
    for b, (src, seq, tgt) in enumerate(zip(sources, seqs, targets)):
        n = len(src) + has_start(task)  # the middle SEP's position
        idx[b, : len(seq)] = seq
        if is_blank(task):
            labels[b, n + 1 : len(seq)] = tgt  # read at the BLANK positions themselves
        else:
            labels[b, n : len(seq) - 1] = tgt  # predictions made from SEP onwards
    return torch.from_numpy(idx), torch.from_numpy(labels)


class LengthSampler:
    """Training batches of `batch_size` sources that all have the same n.

    Each step draws n uniformly from 1..n_max(step), then batch_size sources
    of that n from the pool: every sequence has equal weight, no padding is
    ever needed, and a short step costs only its own tokens. n_max(step)
    follows an optional linear curriculum: it grows from the n that fits in
    `start_len` tokens to the pool's largest n over `ramp_steps` steps
    (ramp_steps = 0: no curriculum).

    Why `long_share`: a target at position p is in the loss only in steps with
    a sequence that reaches p, so under the uniform draw the last rows of a
    training-length sequence are in the loss in a few steps out of a hundred
    (bench/length_mix.py counts them), and an absolute PE, which learns each
    position's row from those steps alone, is starved there. After the
    curriculum, a share `long_share` of the steps draws the pool's largest n
    (one extra uniform draw per step decides it); at 0 no extra draw is made,
    so the sampler is the uniform one draw for draw.
    """

    def __init__(self, sources: Sources, task: str, batch_size: int, start_len: int, ramp_steps: int,
                 rng: np.random.Generator, long_share: float = 0.0):
        self.sources, self.task, self.batch_size, self.rng = sources, task, batch_size, rng
        self.by_n = {int(n): np.flatnonzero(sources.lengths == n) for n in np.unique(sources.lengths)}
        self.n_values = np.array(sorted(self.by_n))
        self.n_start = max(1, n_for_length(task, max(start_len, min_length(task))))
        self.ramp_steps, self.long_share = ramp_steps, long_share

    def n_max(self, step: int) -> int:
        n_full = int(self.n_values[-1])
        if self.ramp_steps <= 0 or step >= self.ramp_steps:
            return n_full
        return min(n_full, self.n_start + (n_full - self.n_start) * step // self.ramp_steps)

    def draw_n(self, step: int) -> int:
        if self.long_share > 0 and step >= self.ramp_steps and self.rng.random() < self.long_share:
            return int(self.n_values[-1])
        allowed = self.n_values[self.n_values <= self.n_max(step)]
        if len(allowed) == 0:
            allowed = self.n_values[:1]
        return int(self.rng.choice(allowed))

    def sample(self, step: int) -> list[np.ndarray]:
        n = self.draw_n(step)
        picks = self.rng.choice(self.by_n[n], size=self.batch_size, replace=len(self.by_n[n]) < self.batch_size)
        return [self.sources.get(i) for i in picks]


def fixed_batches(sources: Sources, task: str, vocab_size: int, batch_size: int):
    """Yield (idx, labels) over a split in order, batch_size sequences at a time."""
    for start in range(0, len(sources), batch_size):
        chunk = [sources.get(i) for i in range(start, min(start + batch_size, len(sources)))]
        yield make_batch(chunk, task, vocab_size)
