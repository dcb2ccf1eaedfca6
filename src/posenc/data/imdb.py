"""IMDb reviews (Maas et al., ACL 2011): reading, BPE tokenizer, splits, length buckets.

Sources, tried in order:
  1. a local archive (`aclImdb_v1.tar.gz`) or an extracted `aclImdb/` folder:
     env IMDB_ARCHIVE, else params `imdb.archive`;
  2. the official archive from `imdb.url`, downloaded to `imdb.archive`;
  3. the `datasets` copy `imdb.hub_dataset`: a hub name, or a folder saved with save_to_disk.
With none reachable, a DataError says the three ways to provide the data.

Layout read: aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt (train/unsup is
ignored). Reviews are sorted by (label, id) so the order never depends on the
archive or file system. A split is stored like the synthetic data: one flat
int32 token array plus per-review lengths, so no review is ever truncated on disk.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tarfile
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from tqdm import tqdm

from posenc import io
from posenc.config import IMDB_TRUNCATION, ImdbConfig
from posenc.errors import DataError

LABELS = ("neg", "pos")  # label id = index
PAD, UNK = "[PAD]", "[UNK]"  # ids 0 and 1 in every tokenizer trained here
_NAME = re.compile(r"(\d+)_(\d+)\.txt$")


@dataclass(frozen=True)
class Reviews:
    """Raw reviews of one split: texts, labels (0 neg, 1 pos) and ids, in a fixed order."""

    texts: list[str]
    labels: np.ndarray  # (N,) int64
    ids: np.ndarray  # (N,) int64
    replaced: tuple[str, ...] = ()  # files (inside aclImdb/) that were not valid UTF-8, decoded with U+FFFD


@dataclass(frozen=True)
class Encoded:
    """A tokenized split: review i is tokens[offsets[i] : offsets[i] + lengths[i]]."""

    lengths: np.ndarray  # (N,) int64, full length in tokens (never truncated)
    tokens: np.ndarray  # (sum(lengths),) int32
    labels: np.ndarray  # (N,) int64
    offsets: np.ndarray = field(init=False, repr=False)  # (N,) start of each review in tokens

    def __post_init__(self):
        object.__setattr__(self, "offsets", np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64))

    def __len__(self) -> int:
        return len(self.lengths)


def clean(text: str) -> str:
    """The reviews carry HTML line breaks; everything else is kept as written."""
    return text.replace("<br />", " ").replace("<br/>", " ").strip()


# ---------------------------------------------------------------- reading

def resolve_source(cfg: ImdbConfig) -> Path:
    """IMDB_ARCHIVE overrides imdb.archive (so a shared copy can be read in place)."""
    return Path(os.environ.get("IMDB_ARCHIVE") or cfg.archive)


def _collect(members, where: str) -> dict[str, Reviews]:
    """members: iterable of (relative path inside aclImdb/, read() -> bytes)."""
    found: dict[str, list[tuple[int, int, str]]] = {"train": [], "test": []}
    replaced: dict[str, list[str]] = {"train": [], "test": []}
    for rel, read in members:
        parts = rel.split("/")
        if len(parts) != 3 or parts[0] not in found or parts[1] not in LABELS:
            continue
        m = _NAME.fullmatch(parts[2])
        if m is None:
            continue
        raw = read()
        try:
            text = clean(raw.decode("utf-8"))
        except UnicodeDecodeError:  # kept, but counted and reported (see load_reviews)
            text = clean(raw.decode("utf-8", errors="replace"))
            replaced[parts[0]].append(rel)
        if not text:
            raise DataError(f"{where}: review aclImdb/{rel} is empty")
        found[parts[0]].append((LABELS.index(parts[1]), int(m.group(1)), text))
    out = {}
    for split, rows in found.items():
        labels_seen = {r[0] for r in rows}
        if labels_seen != {0, 1}:
            raise DataError(f"{where}: wrong layout, expected aclImdb/{split}/pos/*.txt and "
                            f"aclImdb/{split}/neg/*.txt (found {len(rows)} reviews in {split})")
        rows.sort(key=lambda r: (r[0], r[1]))
        out[split] = Reviews([r[2] for r in rows], np.array([r[0] for r in rows], dtype=np.int64),
                             np.array([r[1] for r in rows], dtype=np.int64), tuple(sorted(replaced[split])))
    return out


def report_encoding(reviews: dict[str, Reviews], source: dict, where: Path) -> dict:
    """Count the reviews that needed replacement characters (recorded in metrics/imdb_data.json) and
    warn on one line naming the first. A warning, not an error: a few replaced bytes barely change a
    review's sentiment, the official archive has none, and the count makes a damaged copy visible
    in `dvc metrics diff`."""
    bad = [rel for r in reviews.values() for rel in r.replaced]
    if bad:
        print(f"warning: {where}: {len(bad)} review(s) are not valid UTF-8 and were kept with replacement "
              f"characters (first: aclImdb/{bad[0]})", file=sys.stderr)
    return {**source, "replaced_utf8": len(bad)}


def read_archive(path: Path) -> dict[str, Reviews]:
    """Read train and test from aclImdb_v1.tar.gz (any tar compression)."""
    def members(tar):
        for m in tar:
            if m.isfile() and m.name.startswith("aclImdb/"):
                yield m.name[len("aclImdb/"):], lambda m=m: tar.extractfile(m).read()
    try:
        with tarfile.open(path, "r:*") as tar:
            return _collect(members(tar), str(path))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise DataError(f"{path}: corrupt or unreadable archive ({type(e).__name__})") from None


def read_folder(path: Path) -> dict[str, Reviews]:
    """Read an extracted aclImdb/ folder (or a folder that holds one)."""
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
    files = sorted(p for p in root.glob("*/*/*.txt"))
    return _collect(((p.relative_to(root).as_posix(), p.read_bytes) for p in files), str(path))


def download(url: str, dest: Path) -> None:
    """Fetch the official archive with a progress bar; written atomically."""
    tmp = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=30) as r, open(tmp, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {url.rsplit('/', 1)[-1]}") as bar:
                while chunk := r.read(1 << 20):
                    f.write(chunk)
                    bar.update(len(chunk))
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def read_hub(name: str) -> dict[str, Reviews]:
    """The `datasets` copy: a hub name (e.g. stanfordnlp/imdb), or a folder written by
    DatasetDict.save_to_disk (a copy made once where the hub is reachable). Columns text, label."""
    import datasets  # imported only on this path: it is slow to import

    local = Path(name).is_dir()
    saved = datasets.load_from_disk(name) if local else None
    out = {}
    for split in ("train", "test"):
        ds = saved[split] if local else datasets.load_dataset(name, split=split)
        rows = sorted(((int(lab), i, clean(t)) for i, (t, lab) in enumerate(zip(ds["text"], ds["label"]))))
        out[split] = Reviews([r[2] for r in rows], np.array([r[0] for r in rows]), np.array([r[1] for r in rows]))
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def load_reviews(cfg: ImdbConfig) -> tuple[dict[str, Reviews], dict]:
    """Local archive/folder, else download, else hub; else one clear DataError.

    Returns (reviews, source) where source records what was read (an archive's
    sha256, so that a different copy of the data shows up in the metrics).
    """
    path = resolve_source(cfg)
    if path.is_dir():
        raw = read_folder(path)
        return raw, report_encoding(raw, {"kind": "folder", "name": path.name}, path)
    if path.is_file():
        raw = read_archive(path)
        return raw, report_encoding(raw, {"kind": "archive", "name": path.name, "sha256": sha256(path)}, path)
    tried = []
    if cfg.url:
        try:
            download(cfg.url, path)
            raw = read_archive(path)
            return raw, report_encoding(raw, {"kind": "archive", "name": path.name, "sha256": sha256(path)}, path)
        except OSError as e:  # URLError and socket timeouts are OSErrors
            tried.append(f"download failed: {getattr(e, 'reason', e)}")
    if cfg.hub_dataset:
        try:
            return read_hub(cfg.hub_dataset), {"kind": "hub", "name": cfg.hub_dataset}
        except Exception as e:  # ImportError, network or hub errors: all mean "not reachable"
            tried.append(f"hub {cfg.hub_dataset} failed: {type(e).__name__}")
    raise DataError(f"{path}: IMDb not found. Provide it by (1) setting IMDB_ARCHIVE=/path/to/aclImdb_v1.tar.gz "
                    f"(or an aclImdb/ folder) or putting it at imdb.archive, (2) allowing the download from "
                    f"imdb.url, or (3) the `datasets` copy at imdb.hub_dataset (a hub name or a save_to_disk folder)"
                    + (f" [{'; '.join(tried)}]" if tried else ""))


# ---------------------------------------------------------------- splits and tokenizer

def stratified_pick(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of n items (about n/2 per label), chosen at random, returned sorted."""
    picks = []
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        k = min(len(idx), round(n * len(idx) / len(labels)))
        picks.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(picks))


def subset(r: Reviews, idx: np.ndarray) -> Reviews:
    return Reviews([r.texts[i] for i in idx], r.labels[idx], r.ids[idx])


def split_reviews(raw: dict[str, Reviews], cfg: ImdbConfig, seed: int) -> dict[str, Reviews]:
    """train/val (stratified hold-out from train) and test, optionally subsampled."""
    rng = np.random.default_rng(seed)
    train, test = raw["train"], raw["test"]
    if cfg.max_reviews:
        train = subset(train, stratified_pick(train.labels, min(cfg.max_reviews, len(train.labels)), rng))
        test = subset(test, stratified_pick(test.labels, min(cfg.max_reviews, len(test.labels)), rng))
    val_idx = stratified_pick(train.labels, max(2, round(cfg.val_frac * len(train.labels))), rng)
    keep = np.setdiff1d(np.arange(len(train.labels)), val_idx)
    return {"train": subset(train, keep), "val": subset(train, val_idx), "test": test}


def train_tokenizer(texts: list[str], cfg: ImdbConfig) -> Tokenizer:
    """Byte-pair encoding (Sennrich et al., 2016) learned on the train split only.

    BPE rather than WordPiece because its training is deterministic. Lower-cased
    NFKC text, split on whitespace and punctuation before merging.
    """
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=cfg.tokenizer_vocab, min_frequency=cfg.min_frequency,
                                  special_tokens=[PAD, UNK], show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tok


def encode(tok: Tokenizer, r: Reviews) -> Encoded:
    """Tokenize whole reviews (no truncation: the full length is kept for evaluation)."""
    ids = [e.ids for e in tok.encode_batch(r.texts)]
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    if (lengths == 0).any():
        raise DataError(f"review id {int(r.ids[np.argmax(lengths == 0)])} has no tokens after cleaning")
    return Encoded(lengths, np.concatenate(ids).astype(np.int32), r.labels.copy())


def to_arrays(e: Encoded) -> dict[str, np.ndarray]:
    return {"lengths": e.lengths, "tokens": e.tokens, "labels": e.labels}


def test_subset(test: Encoded, n: int, seed: int) -> Encoded:
    """The first n of a seeded stratified draw of test reviews (all when n is 0 or covers them): the
    evaluation's own subset, so a cheaper evaluation never changes the trained models (issue 14)."""
    if not n or n >= len(test):
        return test
    idx = stratified_pick(test.labels, n, np.random.default_rng([seed, 14]))
    starts = test.offsets[idx]
    tokens = np.concatenate([test.tokens[s:s + k] for s, k in zip(starts, test.lengths[idx])])
    return Encoded(test.lengths[idx], tokens, test.labels[idx])


def load_split(path: str | Path) -> Encoded:
    """Read a prepared split; missing, corrupt or inconsistent -> DataError."""
    path = Path(path)
    arrays = io.load_npz(path, "prepared IMDb split", "run `dvc repro prepare_imdb`")
    try:
        e = Encoded(arrays["lengths"].astype(np.int64), arrays["tokens"], arrays["labels"].astype(np.int64))
    except KeyError:
        raise DataError(f"{path}: inconsistent prepared IMDb split (re-run prepare_imdb)") from None
    if int(e.lengths.sum()) != len(e.tokens) or len(e.labels) != len(e.lengths) or (e.lengths <= 0).any():
        raise DataError(f"{path}: inconsistent prepared IMDb split (re-run prepare_imdb)")
    return e


def load_tokenizer(path: str | Path) -> Tokenizer:
    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:  # tokenizers raises a plain Exception for missing or bad files
        raise DataError(f"{path}: cannot load tokenizer ({type(e).__name__})") from None


def prepare(cfg: ImdbConfig, seed: int) -> tuple[Tokenizer, dict[str, Encoded], dict]:
    """Everything prepare_imdb writes: (tokenizer, {train, val, test} encoded, summary).

    Nothing is written here, so bad input fails before any output exists.
    """
    raw, source = load_reviews(cfg)
    reviews = split_reviews(raw, cfg, seed)
    tok = train_tokenizer(reviews["train"].texts, cfg)
    splits = {name: encode(tok, r) for name, r in tqdm(reviews.items(), desc="tokenize", leave=False)}
    summary = {"source": source, "vocab_size": tok.get_vocab_size(), "lengths": length_summary(splits, cfg)}
    return tok, splits, summary


# ---------------------------------------------------------------- lengths and batches

def bucket_names(edges: tuple[int, ...]) -> list[str]:
    """(256, 512, 1024) -> ['<=256', '257-512', '513-1024', '>1024']."""
    names, lo = [f"<={edges[0]}"], edges[0]
    for hi in edges[1:]:
        names.append(f"{lo + 1}-{hi}")
        lo = hi
    return names + [f">{edges[-1]}"]


def bucket_of(lengths: np.ndarray, edges: tuple[int, ...]) -> np.ndarray:
    """Index into bucket_names(edges) for each full review length."""
    return np.searchsorted(np.asarray(edges), lengths, side="left")


def length_summary(splits: dict[str, Encoded], cfg: ImdbConfig) -> dict:
    """Token-length percentiles per split, and how many reviews each truncation touches."""
    out = {}
    for name, e in splits.items():
        pct = {f"p{q}": float(np.percentile(e.lengths, q)) for q in (10, 25, 50, 75, 90, 95, 99)}
        counts = np.bincount(bucket_of(e.lengths, cfg.bucket_edges), minlength=len(cfg.bucket_edges) + 1)
        out[name] = {
            "n_reviews": len(e), "n_pos": int(e.labels.sum()), "mean": float(e.lengths.mean()),
            "max": int(e.lengths.max()), **pct,
            "buckets": dict(zip(bucket_names(cfg.bucket_edges), map(int, counts))),
            **{f"frac_longer_than_{L}": float((e.lengths > L).mean()) for L in cfg.eval_lengths},
        }
    return out


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None = None,
                   pool: int = 50) -> list[np.ndarray]:
    """Batches of indices with similar lengths, so padding stays small.

    Without rng: sorted by length, in order (evaluation). With rng: shuffle,
    sort within pools of `pool` batches, then shuffle the batches (training).
    """
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    order = rng.permutation(len(lengths))
    chunk = batch_size * pool
    batches = []
    for s in range(0, len(order), chunk):
        part = order[s : s + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def make_batch(e: Encoded, idx: np.ndarray, max_len: int, truncation: str) -> tuple:
    """Right-padded (ids (B, T), attention_mask (B, T), labels (B,)) with reviews truncated at max_len.

    truncation "head" keeps a long review's first max_len tokens, "tail" its
    last max_len (Keras' default `truncating="pre"`). Either way the kept
    tokens sit at positions 0..max_len-1, and a review no longer than max_len
    is passed whole.
    """
    if truncation not in IMDB_TRUNCATION:
        raise ValueError(f"truncation must be one of {IMDB_TRUNCATION}, got {truncation!r}")
    n = np.minimum(e.lengths[idx], max_len)
    T = int(n.max())
    ids = np.zeros((len(idx), T), dtype=np.int64)  # 0 = [PAD]
    mask = np.zeros((len(idx), T), dtype=np.int64)
    for b, (i, k) in enumerate(zip(idx, n)):
        start = e.offsets[i] if truncation == "head" else e.offsets[i] + e.lengths[i] - k
        ids[b, :k] = e.tokens[start : start + k]
        mask[b, :k] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(e.labels[idx])
