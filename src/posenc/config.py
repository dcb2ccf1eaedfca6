"""params.yaml -> frozen dataclasses. The only module that reads params.yaml.

Every key is required and every unknown key is rejected, so a typo in
`dvc exp run -S trian.lr=...` fails loudly instead of being ignored. Errors are
one line and name the dotted key, e.g. ``train.lr: must be > 0, got -1.0``.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml

from posenc.errors import ConfigError

TASKS = ("copy", "duplicate", "copy_blank", "duplicate_blank",  # *_blank: the brief's format (data/synthetic.py)
         "copy_start", "duplicate_start")  # *_start: teacher-forced with a start token
NORMS = ("layernorm", "rmsnorm")
IMDB_TRUNCATION = ("head", "tail")
DTYPES = ("auto", "float32", "bfloat16")  # runtime.dtype (resolved in engine/runtime.py)


@dataclass(frozen=True)
class SyntheticConfig:
    """Copy / duplicate data."""

    tasks: tuple[str, ...]
    headline_task: str  # the task whose token accuracy fills results.json["synthetic"]
    vocab_size: int  # content tokens 0..vocab_size-1; SEP and PAD come after
    train_max_len: int  # longest training sequence (tokens, SEP included)
    train_size: int  # source sequences per task in the training pool
    val_size: int  # sequences at train_max_len scored at every validation check
    eval_size: int  # sequences per evaluation length
    eval_lengths: tuple[int, ...]  # headline lengths (256, 512, 1024)
    curve_lengths: tuple[int, ...]  # extra lengths for accuracy-vs-length curves
    far_lengths: tuple[int, ...]  # evaluation only, in a data file of its own (the study: 2048, 4096)


@dataclass(frozen=True)
class ModelConfig:
    """The shared Transformer block."""

    n_layers: int
    d_model: int
    n_heads: int
    ffn_mult: int
    norm: str
    dropout: float
    max_positions: int  # size of the fixed PE tables: the longest input a model accepts


@dataclass(frozen=True)
class TrainConfig:
    """One recipe shared by every PE: the PE is the only variable."""

    lr: float
    weight_decay: float
    batch_size: int  # sequences per step, all of one length (see data/synthetic.LengthSampler)
    curriculum_start_len: int  # longest training sequence at step 0 ...
    curriculum_steps: int  # ... growing linearly to synthetic.train_max_len over this many steps (0: off)
    long_share: float  # after the curriculum, this share of steps draws the longest n, the rest n uniform (0: uniform)
    max_steps: int
    warmup_frac: float
    grad_clip: float
    check_every: int  # steps between validation checks (learning speed; never a stop rule)
    solved_acc: float  # learning speed: the first check with validation token accuracy >= this ...
    solved_exact: float  # ... and the first with validation exact match >= this
    track_every: int  # steps between scoring the model at every eval length (extrapolation along training)
    track_size: int  # sequences per length in that tracking (the first of each evaluation set)
    resume_every: int  # steps between snapshots a killed training resumes from (engine/resume.py; 0: off)
    log_every: int


@dataclass(frozen=True)
class EvalConfig:
    batch_size: int
    position_draws: int  # a randomized PE is scored with this many seeded position draws, averaged


@dataclass(frozen=True)
class ImdbConfig:
    """IMDb sentiment classification: data, tokenizer and the classifier recipe."""

    archive: str  # aclImdb_v1.tar.gz or an extracted aclImdb/ folder; env IMDB_ARCHIVE overrides
    url: str  # official archive, downloaded when the local one is missing ("" = never download)
    hub_dataset: str  # `datasets` hub name tried last ("" = never)
    tokenizer_vocab: int  # BPE vocabulary size, special tokens included
    min_frequency: int  # BPE merges need at least this many occurrences
    val_frac: float  # stratified share of train held out for model selection
    max_reviews: int  # per split, a stratified subset for quick runs (0 = all)
    test_reviews: int  # evaluation only: a stratified subset of the test split (0 = all); training is unchanged
    train_max_len: int  # training inputs are truncated to this many tokens
    truncation: str  # which end of a long review is kept: "head" (its start) or "tail" (its end)
    eval_lengths: tuple[int, ...]  # test reviews truncated at each of these lengths
    bucket_edges: tuple[int, ...]  # review-length buckets: <=e0, e0+1..e1, ..., >e_last
    epochs: int
    batch_size: int  # reviews per step, batched by similar length
    lr: float
    weight_decay: float
    warmup_frac: float
    grad_clip: float
    dropout: float  # replaces model.dropout for the classifier
    map_window: int  # tokens of a review shown around where attention concentrates (stage plot_reviews)


@dataclass(frozen=True)
class ProbeConfig:
    """Looking inside trained models (stage probe): gradients, attention maps, attention entropy."""

    lengths: tuple[int, ...]  # gradient-norm probes on a fixed batch at each of these lengths
    batch_size: int  # sequences (synthetic) or reviews (IMDb) in that batch
    map_lengths: tuple[int, ...]  # attention maps of one fixed copy example at these lengths


@dataclass(frozen=True)
class ProfileConfig:
    """The cost of each PE (stage profile): throughput and memory of an untrained model."""

    lengths: tuple[int, ...]  # sequence lengths measured (may exceed model.max_positions)
    batch_size: int
    warmup: int  # untimed repetitions before measuring
    repeats: int  # timed repetitions; the median is reported
    matmul_size: int  # n of the n x n fp32 matmul that measures the machine's peak FLOP/s


@dataclass(frozen=True)
class RuntimeConfig:
    """How a run computes (engine/runtime.py)."""

    dtype: str  # auto | float32 | bfloat16


@dataclass(frozen=True)
class Config:
    seed: int  # the data: synthetic sets, IMDb split, probe batches (the evaluation sets never change)
    seeds: tuple[int, ...]  # one trained model per seed (initialisation and batch order)
    pes: tuple[str, ...]
    lr_sweep: tuple[float, ...]  # each PE also trained at these learning rates (headline task, first seed)
    pe: dict[str, dict]  # each PE's own hyperparameters, pe.<name>, checked by that PE's class (nn/pe/<name>.py)
    synthetic: SyntheticConfig
    model: ModelConfig
    train: TrainConfig
    evaluate: EvalConfig
    imdb: ImdbConfig
    probe: ProbeConfig
    profile: ProfileConfig
    runtime: RuntimeConfig


def _coerce(value, hint, key: str):
    """Check `value` against a type hint; return it in canonical form."""
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if hint is float:
        # YAML reads `1e-3` as a string; accept any number written as text.
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{key}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if typing.get_origin(hint) is tuple:
        (item_hint, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return tuple(_coerce(v, item_hint, f"{key}[{i}]") for i, v in enumerate(value))
    if typing.get_origin(hint) is dict:  # dict[str, dict]: sections owned by someone else (see validate)
        if not isinstance(value, dict) or not all(isinstance(v, dict) or v is None for v in value.values()):
            raise ConfigError(f"{key}: expected a mapping of name -> mapping, got {value!r}")
        return {str(k): dict(v or {}) for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key)
    raise TypeError(f"unsupported type hint {hint!r} for {key}")  # a bug, not user input


def build_section(cls, data, prefix: str):
    """A frozen dataclass from one params section, with the same strict checks as the rest of params.yaml."""
    return _build(cls, data, prefix)


def _build(cls, data, prefix: str = ""):
    where = prefix or "params"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for k in data:
        if k not in hints:
            raise ConfigError(f"{prefix + '.' if prefix else ''}{k}: unknown key")
    values = {}
    for name in names:
        key = f"{prefix}.{name}" if prefix else name
        if name not in data:
            raise ConfigError(f"{key}: missing key")
        values[name] = _coerce(data[name], hints[name], key)
    return cls(**values)


def _check(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {msg}")


def min_length(task: str) -> int:
    """Shortest total length holding one content token: copy 3, duplicate 4 (one more with a start token)."""
    return (3 if task.startswith("copy") else 4) + task.endswith("_start")


def validate(cfg: Config) -> None:
    """Cross-field checks that a type alone cannot express."""
    s, m, t = cfg.synthetic, cfg.model, cfg.train
    _check(cfg.seed >= 0, "seed", f"must be >= 0, got {cfg.seed}")
    _check(len(cfg.seeds) > 0 and min(cfg.seeds) >= 0 and len(set(cfg.seeds)) == len(cfg.seeds), "seeds",
           f"must be a non-empty list of distinct seeds >= 0, got {list(cfg.seeds)}")
    _validate_pes(cfg)
    _check(all(lr > 0 for lr in cfg.lr_sweep) and len(set(cfg.lr_sweep)) == len(cfg.lr_sweep), "lr_sweep",
           f"must be distinct learning rates > 0, got {list(cfg.lr_sweep)}")

    _validate_synthetic(s, m)

    _check(m.n_layers > 0, "model.n_layers", f"must be > 0, got {m.n_layers}")
    _check(m.n_heads > 0, "model.n_heads", f"must be > 0, got {m.n_heads}")
    _check(m.d_model > 0 and m.d_model % m.n_heads == 0, "model.d_model",
           f"must be a positive multiple of model.n_heads ({m.n_heads}), got {m.d_model}")
    _check(m.ffn_mult > 0, "model.ffn_mult", f"must be > 0, got {m.ffn_mult}")
    _check(m.norm in NORMS, "model.norm", f"unknown norm {m.norm!r}; choose from {', '.join(NORMS)}")
    _check(0.0 <= m.dropout < 1.0, "model.dropout", f"must be in [0, 1), got {m.dropout}")

    _check(t.lr > 0, "train.lr", f"must be > 0, got {t.lr}")
    _check(t.weight_decay >= 0, "train.weight_decay", f"must be >= 0, got {t.weight_decay}")
    _check(t.curriculum_steps >= 0, "train.curriculum_steps", f"must be >= 0, got {t.curriculum_steps}")
    longest_min = max(min_length(task) for task in s.tasks)
    _check(longest_min <= t.curriculum_start_len <= s.train_max_len, "train.curriculum_start_len",
           f"must be between {longest_min} and synthetic.train_max_len ({s.train_max_len}), got {t.curriculum_start_len}")
    for key in ("batch_size", "max_steps", "check_every", "track_every", "track_size", "log_every"):
        _check(getattr(t, key) > 0, f"train.{key}", f"must be > 0, got {getattr(t, key)}")
    _check(0.0 <= t.long_share <= 1.0, "train.long_share", f"must be in [0, 1], got {t.long_share}")
    _check(0.0 <= t.warmup_frac < 1.0, "train.warmup_frac", f"must be in [0, 1), got {t.warmup_frac}")
    _check(t.grad_clip > 0, "train.grad_clip", f"must be > 0, got {t.grad_clip}")
    _check(t.resume_every >= 0, "train.resume_every", f"must be >= 0 (0 = off), got {t.resume_every}")
    for key in ("solved_acc", "solved_exact"):
        _check(0.0 < getattr(t, key) <= 1.0, f"train.{key}", f"must be in (0, 1], got {getattr(t, key)}")
    _check(t.track_size <= s.eval_size, "train.track_size",
           f"must be <= synthetic.eval_size ({s.eval_size}), got {t.track_size}")
    _check(cfg.evaluate.batch_size > 0, "evaluate.batch_size", f"must be > 0, got {cfg.evaluate.batch_size}")
    _check(cfg.evaluate.position_draws > 0, "evaluate.position_draws", f"must be > 0, got {cfg.evaluate.position_draws}")
    _check(cfg.runtime.dtype in DTYPES, "runtime.dtype",
           f"unknown precision {cfg.runtime.dtype!r}; choose from {', '.join(DTYPES)}")
    _validate_imdb(cfg.imdb, m)
    _validate_probe(cfg.probe, s, m)
    _validate_profile(cfg.profile)


def _validate_pes(cfg: Config) -> None:
    """Names only: each PE's own section is checked by its class when the PE is built (nn/pe/)."""
    from posenc.nn.pe import available  # lists the PE modules without importing them (or torch)

    _check(len(cfg.pes) > 0, "pes", "must list at least one positional encoding")
    for i, pe in enumerate(cfg.pes):
        _check(pe in available(), f"pes[{i}]", f"unknown PE {pe!r}; choose from {', '.join(available())}")
    _check(len(set(cfg.pes)) == len(cfg.pes), "pes", "contains duplicates")
    for name in cfg.pe:
        _check(name in available(), f"pe.{name}", f"unknown PE; choose from {', '.join(available())}")
    for pe in cfg.pes:
        _check(pe in cfg.pe, f"pe.{pe}", "missing section (write `{}` for a PE without parameters)")


def _validate_synthetic(s: SyntheticConfig, m: ModelConfig) -> None:
    _check(len(s.tasks) > 0, "synthetic.tasks", "must list at least one task")
    for i, task in enumerate(s.tasks):
        _check(task in TASKS, f"synthetic.tasks[{i}]", f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    _check(s.headline_task in s.tasks, "synthetic.headline_task", f"{s.headline_task!r} is not in synthetic.tasks")
    _check(s.vocab_size >= 2, "synthetic.vocab_size", f"must be >= 2, got {s.vocab_size}")
    for key in ("train_size", "val_size", "eval_size"):
        val = getattr(s, key)
        _check(val > 0, f"synthetic.{key}", f"must be > 0, got {val}")
    longest_min = max(min_length(task) for task in s.tasks)
    _check(s.train_max_len >= longest_min, "synthetic.train_max_len",
           f"must be >= {longest_min} to hold one token of every task, got {s.train_max_len}")
    _check(m.max_positions >= s.train_max_len, "model.max_positions",
           f"({m.max_positions}) is below the training length synthetic.train_max_len ({s.train_max_len})")
    _check(len(s.eval_lengths) > 0, "synthetic.eval_lengths", "must not be empty")
    _check(_increasing(s.far_lengths), "synthetic.far_lengths", "must be strictly increasing")
    shared = sorted(set(s.far_lengths) & (set(s.eval_lengths) | set(s.curve_lengths)))
    _check(not shared, "synthetic.far_lengths", f"{shared} already in eval_lengths or curve_lengths")
    for key in ("eval_lengths", "curve_lengths", "far_lengths"):
        for i, L in enumerate(getattr(s, key)):
            _check(L >= longest_min, f"synthetic.{key}[{i}]",
                   f"length {L} is impossible: every task needs at least {longest_min} tokens")
            _check(L <= m.max_positions, f"synthetic.{key}[{i}]",
                   f"length {L} exceeds model.max_positions ({m.max_positions})")


def _increasing(values: tuple[int, ...]) -> bool:
    return all(a < b for a, b in zip(values, values[1:]))


def _validate_imdb(c: ImdbConfig, m: ModelConfig) -> None:
    _check(c.archive != "", "imdb.archive", "must name an archive or folder (it need not exist)")
    _check(c.tokenizer_vocab >= 64, "imdb.tokenizer_vocab", f"must be >= 64, got {c.tokenizer_vocab}")
    _check(c.min_frequency >= 1, "imdb.min_frequency", f"must be >= 1, got {c.min_frequency}")
    _check(0.0 < c.val_frac < 0.5, "imdb.val_frac", f"must be in (0, 0.5), got {c.val_frac}")
    _check(c.max_reviews >= 0, "imdb.max_reviews", f"must be >= 0 (0 = all), got {c.max_reviews}")
    _check(c.test_reviews >= 0, "imdb.test_reviews", f"must be >= 0 (0 = all), got {c.test_reviews}")
    _check(2 <= c.train_max_len <= m.max_positions, "imdb.train_max_len",
           f"must be between 2 and model.max_positions ({m.max_positions}), got {c.train_max_len}")
    _check(c.truncation in IMDB_TRUNCATION, "imdb.truncation",
           f"unknown truncation {c.truncation!r}; choose from {', '.join(IMDB_TRUNCATION)}")
    _check(len(c.eval_lengths) > 0, "imdb.eval_lengths", "must not be empty")
    _check(_increasing(c.eval_lengths), "imdb.eval_lengths", "must be strictly increasing")
    for i, L in enumerate(c.eval_lengths):
        _check(2 <= L <= m.max_positions, f"imdb.eval_lengths[{i}]",
               f"length {L} is impossible: must be between 2 and model.max_positions ({m.max_positions})")
    _check(len(c.bucket_edges) > 0 and _increasing(c.bucket_edges) and c.bucket_edges[0] > 0,
           "imdb.bucket_edges", "must be a non-empty, strictly increasing list of positive lengths")
    for key in ("epochs", "batch_size", "map_window"):
        _check(getattr(c, key) > 0, f"imdb.{key}", f"must be > 0, got {getattr(c, key)}")
    _check(c.lr > 0, "imdb.lr", f"must be > 0, got {c.lr}")
    _check(c.weight_decay >= 0, "imdb.weight_decay", f"must be >= 0, got {c.weight_decay}")
    _check(0.0 <= c.warmup_frac < 1.0, "imdb.warmup_frac", f"must be in [0, 1), got {c.warmup_frac}")
    _check(c.grad_clip > 0, "imdb.grad_clip", f"must be > 0, got {c.grad_clip}")
    _check(0.0 <= c.dropout < 1.0, "imdb.dropout", f"must be in [0, 1), got {c.dropout}")


def _validate_probe(c: ProbeConfig, s: SyntheticConfig, m: ModelConfig) -> None:
    evaluated = set(s.eval_lengths) | set(s.curve_lengths)
    for key in ("lengths", "map_lengths"):
        values = getattr(c, key)
        _check(len(values) > 0 and _increasing(values), f"probe.{key}",
               "must be a non-empty, strictly increasing list of lengths")
        for i, L in enumerate(values):
            _check(L in evaluated, f"probe.{key}[{i}]",
                   f"length {L} has no evaluation set: use one of synthetic.eval_lengths or synthetic.curve_lengths")
    _check(c.batch_size > 0, "probe.batch_size", f"must be > 0, got {c.batch_size}")


def _validate_profile(c: ProfileConfig) -> None:
    _check(len(c.lengths) > 0 and _increasing(c.lengths) and c.lengths[0] >= 2, "profile.lengths",
           "must be a non-empty, strictly increasing list of lengths >= 2")
    for key in ("batch_size", "repeats", "matmul_size"):
        _check(getattr(c, key) > 0, f"profile.{key}", f"must be > 0, got {getattr(c, key)}")
    _check(c.warmup >= 0, "profile.warmup", f"must be >= 0, got {c.warmup}")


def from_dict(data) -> Config:
    cfg = _build(Config, data)
    validate(cfg)
    return cfg


def load(path: str | Path = "params.yaml") -> Config:
    """Read and validate params.yaml; every failure is a one-line ConfigError."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: malformed YAML{_yaml_where(e)}") from None
    return from_dict(data)


def _yaml_where(e) -> str:
    """' at line N: <problem>', plus where the construct it belongs to began when that is an earlier line
    (an unclosed bracket is only detected on the next line: the opening line is the one to fix)."""
    mark, ctx = getattr(e, "problem_mark", None), getattr(e, "context_mark", None)
    if mark is None:
        return ""
    out = f" at line {mark.line + 1}: {e.problem}" if getattr(e, "problem", None) else f" at line {mark.line + 1}"
    if ctx is not None and ctx.line < mark.line and getattr(e, "context", None):
        out += f" ({e.context} started at line {ctx.line + 1})"
    return out


def to_dict(cfg) -> dict:
    """Plain dict (lists, not tuples) for checkpoints and JSON."""
    return dataclasses.asdict(cfg)


def check_choice(value: str, allowed: tuple[str, ...], key: str) -> None:
    """For CLI arguments that must name an entry of a params list."""
    if value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not listed (have {', '.join(allowed)})")
