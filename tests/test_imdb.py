"""IMDb on generated reviews: reading and its errors, the tokenizer, splits, length buckets,
the classifier's padding invariance, truncation, and the training/evaluation loop."""

import dataclasses
import gzip
import hashlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from posenc.data.fake_imdb import write_archive, write_folder
from posenc.analysis.evaluate_imdb import evaluate_classifier
from posenc.artifacts import Layout
from posenc.engine.classify import classifier_spec, predict, scores, train_classifier
from posenc.data import imdb
from posenc.errors import DataError
from posenc.engine.runtime import resolve
from posenc.nn.backbone import build_model

CPU32 = resolve("float32", "cpu")

PES = ["sinusoidal", "learned", "rope", "alibi"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return write_archive(tmp_path_factory.mktemp("imdb") / "aclImdb_v1.tar.gz")


def imdb_cfg(tiny_cfg, source, **kw):
    return dataclasses.replace(tiny_cfg.imdb, archive=str(source), url="", hub_dataset="", **kw)


@pytest.fixture
def prepared(tiny_cfg, archive, monkeypatch):
    monkeypatch.delenv("IMDB_ARCHIVE", raising=False)
    return imdb.prepare(imdb_cfg(tiny_cfg, archive), tiny_cfg.seed)


# ---------------------------------------------------------------- reading and its errors

def test_archive_and_folder_give_the_same_reviews(tmp_path, archive):
    a = imdb.read_archive(archive)
    f = imdb.read_folder(write_folder(tmp_path))  # same generator, same seed
    for split in ("train", "test"):
        assert a[split].texts == f[split].texts
        assert (a[split].labels == f[split].labels).all() and set(a[split].labels) == {0, 1}
        assert not any("<br" in t for t in a[split].texts)


def test_reviews_that_are_not_utf8_are_counted_and_named(tiny_cfg, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("IMDB_ARCHIVE", raising=False)
    folder = write_folder(tmp_path)
    bad = next((folder / "train" / "pos").glob("*.txt"))
    bad.write_bytes(b"a great film \xff\xfe loved it")
    reviews, source = imdb.load_reviews(imdb_cfg(tiny_cfg, folder))
    assert source["replaced_utf8"] == 1 and reviews["train"].replaced == (f"train/pos/{bad.name}",)
    assert any("\ufffd" in t and "loved it" in t for t in reviews["train"].texts)  # kept, not dropped
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "1 review(s) are not valid UTF-8" in err and f"train/pos/{bad.name}" in err
    clean_folder = write_folder(tmp_path / "clean")
    assert imdb.load_reviews(imdb_cfg(tiny_cfg, clean_folder))[1]["replaced_utf8"] == 0


def test_imdb_archive_env_overrides_the_param(tiny_cfg, archive, tmp_path, monkeypatch):
    cfg = imdb_cfg(tiny_cfg, tmp_path / "nowhere.tar.gz")
    monkeypatch.setenv("IMDB_ARCHIVE", str(archive))
    reviews, source = imdb.load_reviews(cfg)
    assert source["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert len(reviews["train"].texts) == len(reviews["test"].texts) > 0


def test_the_datasets_route_reads_a_saved_copy_offline(tiny_cfg, archive, tmp_path, monkeypatch):
    """The third source for real: a DatasetDict saved with save_to_disk, read back with no network."""
    import datasets

    monkeypatch.delenv("IMDB_ARCHIVE", raising=False)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    ref = imdb.read_archive(archive)
    saved = datasets.DatasetDict({split: datasets.Dataset.from_dict(
        {"text": ref[split].texts, "label": ref[split].labels.tolist()}) for split in ("train", "test")})
    saved.save_to_disk(str(tmp_path / "imdb_hub"))
    cfg = dataclasses.replace(imdb_cfg(tiny_cfg, tmp_path / "missing.tar.gz"), hub_dataset=str(tmp_path / "imdb_hub"))
    reviews, source = imdb.load_reviews(cfg)
    assert source == {"kind": "hub", "name": str(tmp_path / "imdb_hub")}
    for split in ("train", "test"):
        assert reviews[split].texts == ref[split].texts
        assert (reviews[split].labels == ref[split].labels).all()


def test_missing_data_names_the_three_ways(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.delenv("IMDB_ARCHIVE", raising=False)
    with pytest.raises(DataError) as e:
        imdb.load_reviews(imdb_cfg(tiny_cfg, tmp_path / "missing.tar.gz"))
    msg = str(e.value)
    assert "missing.tar.gz" in msg and "IMDB_ARCHIVE" in msg and "imdb.url" in msg and "imdb.hub_dataset" in msg
    assert "\n" not in msg


def test_an_unreachable_download_is_reported_and_leaves_no_file(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.delenv("IMDB_ARCHIVE", raising=False)
    dest = tmp_path / "dl" / "aclImdb_v1.tar.gz"
    cfg = dataclasses.replace(imdb_cfg(tiny_cfg, dest), url="http://127.0.0.1:9/aclImdb_v1.tar.gz")
    with pytest.raises(DataError, match="download failed"):
        imdb.load_reviews(cfg)
    assert not dest.exists() and not list(dest.parent.glob("*.part"))


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_archive_is_a_data_error(archive, tmp_path, damage):
    bad = tmp_path / "bad.tar.gz"
    data = archive.read_bytes()
    bad.write_bytes(b"not an archive at all" if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(DataError, match="bad.tar.gz: corrupt"):
        imdb.read_archive(bad)


def test_empty_review_file_is_named(tmp_path):
    root = write_folder(tmp_path)
    (root / "train" / "pos" / "3_9.txt").write_text("  <br /> ")
    with pytest.raises(DataError, match=r"aclImdb/train/pos/3_9.txt is empty"):
        imdb.read_folder(tmp_path)


def test_wrong_layout_is_a_data_error(tmp_path):
    import shutil
    root = write_folder(tmp_path)
    shutil.rmtree(root / "test" / "neg")
    with pytest.raises(DataError, match="wrong layout.*aclImdb/test/neg"):
        imdb.read_folder(tmp_path)
    other = tmp_path / "other"
    (other / "reviews").mkdir(parents=True)
    (other / "reviews" / "1.txt").write_text("hello")
    with pytest.raises(DataError, match="wrong layout"):
        imdb.read_folder(other)


# ---------------------------------------------------------------- tokenizer and splits

def test_prepare_keeps_full_lengths_and_a_stratified_val_split(prepared, tiny_cfg, archive):
    tok, splits, summary = prepared
    raw = imdb.read_archive(archive)
    assert len(splits["train"]) + len(splits["val"]) == len(raw["train"].texts)
    assert len(splits["test"]) == len(raw["test"].texts)
    val = splits["val"]
    assert len(val) == round(tiny_cfg.imdb.val_frac * len(raw["train"].texts))
    assert abs(int(val.labels.sum()) - len(val) / 2) <= 1  # stratified: balanced like the source
    # no truncation on disk: every stored review is its whole encoding
    test = splits["test"]
    for i in (0, len(test) - 1):
        full = tok.encode(raw["test"].texts[i]).ids
        assert test.tokens[test.offsets[i]: test.offsets[i] + test.lengths[i]].tolist() == full
    assert tok.token_to_id(imdb.PAD) == 0 and tok.token_to_id(imdb.UNK) == 1
    assert summary["lengths"]["test"]["max"] == int(test.lengths.max())
    assert sum(summary["lengths"]["test"]["buckets"].values()) == len(test)


def test_tokenizer_json_is_identical_across_two_runs(tmp_path, tiny_cfg, archive, monkeypatch):
    """Run the real stage twice into two folders and hash what it wrote."""
    monkeypatch.setenv("IMDB_ARCHIVE", str(archive))
    params = tmp_path / "params.yaml"
    import yaml
    from conftest import tiny_params
    params.write_text(yaml.safe_dump(tiny_params()))
    digests = []
    for run in ("a", "b"):
        proc = subprocess.run([sys.executable, str(ROOT / "stages/prepare_imdb.py"), "--params", str(params),
                               "--root", str(tmp_path / run)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        layout = Layout(tmp_path / run)
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(layout.imdb_data.iterdir())})
        digests[-1]["summary"] = hashlib.sha256(layout.imdb_summary.read_bytes()).hexdigest()
    assert set(digests[0]) == {"tokenizer.json", "train.npz", "val.npz", "test.npz", "summary"}
    assert digests[0] == digests[1]


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_prepare_stage_errors_are_one_line_and_write_nothing(tmp_path, archive, damage):
    src = tmp_path / "src.tar.gz"
    if damage == "corrupt":
        src.write_bytes(gzip.compress(b"this is no tar file"))
    params = tmp_path / "params.yaml"
    import yaml
    from conftest import tiny_params
    data = tiny_params()
    data["imdb"].update(archive=str(src), url="", hub_dataset="")
    params.write_text(yaml.safe_dump(data))
    env = {"PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, str(ROOT / "stages/prepare_imdb.py"), "--params", str(params),
                           "--root", str(tmp_path / "out")], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "src.tar.gz" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_load_split_rejects_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        imdb.load_split(tmp_path / "train.npz")
    (tmp_path / "train.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match="corrupt"):
        imdb.load_split(tmp_path / "train.npz")


# ---------------------------------------------------------------- buckets and batches

def test_bucket_edges_are_inclusive_upper_bounds():
    edges = (256, 512, 1024)
    assert imdb.bucket_names(edges) == ["<=256", "257-512", "513-1024", ">1024"]
    got = imdb.bucket_of(np.array([1, 256, 257, 512, 513, 1024, 1025]), edges).tolist()
    assert got == [0, 0, 1, 1, 2, 2, 3]


def test_length_batches_cover_every_review_once_with_little_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 500, size=1000)
    for batches in (imdb.length_batches(lengths, 32), imdb.length_batches(lengths, 32, np.random.default_rng(1))):
        flat = np.concatenate(batches)
        assert sorted(flat.tolist()) == list(range(1000))
        padded = sum(len(b) * lengths[b].max() for b in batches)
        assert padded < 1.2 * lengths.sum()  # random batches would pad about 2x


@pytest.mark.parametrize("truncation", ["head", "tail"])
def test_truncation_changes_only_reviews_longer_than_L(prepared, truncation):
    _, splits, _ = prepared
    test = splits["test"]
    L = int(np.median(test.lengths))
    idx = np.arange(len(test))
    ids, mask, _ = imdb.make_batch(test, idx, L, truncation)
    full_ids, full_mask, _ = imdb.make_batch(test, idx, int(test.lengths.max()), truncation)
    for i in idx:
        n, k = int(test.lengths[i]), min(int(test.lengths[i]), L)
        assert int(mask[i].sum()) == k
        whole = full_ids[i, :n].tolist()
        kept = whole[:k] if truncation == "head" else whole[n - k :]
        assert ids[i, :k].tolist() == kept  # kept tokens start at position 0 either way
    short = test.lengths <= L
    assert short.any() and (~short).any()
    # short reviews are the same input at L and at full length; long ones are cut
    assert (mask.sum(1).numpy()[short] == full_mask.sum(1).numpy()[short]).all()
    assert (mask.sum(1).numpy()[~short] < full_mask.sum(1).numpy()[~short]).all()
    if truncation == "tail":  # and they keep their end, which head truncation drops
        long_one = int(np.flatnonzero(~short)[0])
        n = int(test.lengths[long_one])
        assert ids[long_one, L - 1] == full_ids[long_one, n - 1]


def test_unknown_truncation_is_refused(prepared):
    _, splits, _ = prepared
    with pytest.raises(ValueError, match="truncation"):
        imdb.make_batch(splits["test"], np.arange(2), 8, "middle")


# ---------------------------------------------------------------- classifier

def make_classifier(tiny_cfg, pe, vocab=50):
    torch.manual_seed(0)
    return build_model(classifier_spec(tiny_cfg, pe, vocab)).eval()


def test_scores_on_known_predictions():
    labels = np.array([0, 0, 1, 1])
    perfect = np.array([[2.0, 0], [2, 0], [0, 2], [0, 2]], dtype=np.float32)
    s = scores(perfect, labels)
    assert s["acc"] == 1.0 and s["f1"] == 1.0 and s["n"] == 4
    one_class = np.array([[0, 1.0]] * 4, dtype=np.float32)  # always "pos": F1 pos 2/3, neg 0
    s = scores(one_class, labels)
    assert s["acc"] == 0.5 and s["f1"] == pytest.approx(1 / 3)
    assert np.isnan(scores(np.full((2, 2), np.nan, dtype=np.float32), labels[:2])["loss"])


# ---------------------------------------------------------------- training and evaluation

def test_training_is_deterministic_and_keeps_the_best_val_loss(prepared, tiny_cfg):
    tok, splits, _ = prepared
    # float32 throughout: the val loss is recomputed below in float32 with another batch size, which
    # bf16 (runtime auto on a CPU with native bf16) would round differently; bf16 determinism: test_train.
    a = train_classifier(tiny_cfg, "rope", splits, tok.get_vocab_size(), 0, progress=False, rt=CPU32)
    b = train_classifier(tiny_cfg, "rope", splits, tok.get_vocab_size(), 0, progress=False, rt=CPU32)
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    losses = a["epochs"]["val_loss"]
    assert len(losses) == tiny_cfg.imdb.epochs
    assert a["summary"]["best_val_loss"] == min(losses)
    assert a["summary"]["best_epoch"] == 1 + int(np.argmin(losses))
    model = build_model(classifier_spec(tiny_cfg, "rope", tok.get_vocab_size()))
    model.load_state_dict(a["state_dict"])
    val = scores(predict(model, splits["val"], tiny_cfg.imdb.train_max_len, tiny_cfg.imdb.truncation, 4,
                         CPU32), splits["val"].labels)
    assert val["loss"] == pytest.approx(min(losses), rel=1e-5)


class Killed(Exception):
    pass


def test_a_killed_imdb_training_resumes_mid_epoch_and_ends_byte_identical(prepared, tiny_params_dict, tmp_path):
    """Issue 17: stop a 2-epoch run (with dropout, so the torch generator matters) in its second epoch after a
    snapshot; the rerun resumes there, not from step 0, and the weights, history, epochs, summary and live-log
    rows all equal an uninterrupted run's; the snapshot is removed at the end."""
    from posenc import config
    from posenc.engine.resume import Snapshots

    tok, splits, _ = prepared
    tiny_params_dict["train"].update(log_every=1, resume_every=3)
    tiny_params_dict["imdb"].update(epochs=2, dropout=0.1)
    cfg = config.from_dict(tiny_params_dict)
    vocab = tok.get_vocab_size()
    rows_ref = []
    ref = train_classifier(cfg, "rope", splits, vocab, 0, progress=False, on_log=lambda s, m: rows_ref.append((s, m)))
    per_epoch = ref["summary"]["steps"] // 2
    kill = 3 * (per_epoch // 3 + 1) + 1  # the step after the first snapshot of the second epoch
    assert kill < 2 * per_epoch, "the tiny run is too short to kill in its second epoch"

    def dies(step, metrics):
        if step == kill:
            raise Killed

    snaps = Snapshots(tmp_path / "snap.pt", 3)
    with pytest.raises(Killed):
        train_classifier(cfg, "rope", splits, vocab, 0, progress=False, on_log=dies, snapshots=snaps)
    assert snaps.load()["engine"]["steps_done"] == kill - 1 and snaps.load()["epoch"] == 1
    rows = []
    out = train_classifier(cfg, "rope", splits, vocab, 0, progress=False, on_log=lambda s, m: rows.append((s, m)),
                           snapshots=snaps)
    assert out["history"] == ref["history"] and out["epochs"] == ref["epochs"] and out["summary"] == ref["summary"]
    assert all(torch.equal(out["state_dict"][k], ref["state_dict"][k]) for k in ref["state_dict"])
    by_name = lambda rs: sorted((k, s, v) for s, m in rs for k, v in m.items())  # noqa: E731  per metric, step order
    assert by_name(rows) == by_name(rows_ref)
    assert not (tmp_path / "snap.pt").exists()


@pytest.mark.parametrize("pe", ["learned", "alibi"])
def test_evaluation_reuses_logits_only_where_the_input_is_unchanged(prepared, tiny_cfg, pe):
    """Each length's scores equal a from-scratch pass over the test set truncated at that length."""
    tok, splits, _ = prepared
    model = make_classifier(tiny_cfg, pe, tok.get_vocab_size())
    test = splits["test"]
    out = evaluate_classifier(model, test, tiny_cfg, CPU32)  # float32 like the reference (batching would change bf16 rounding)
    assert list(out) == [str(L) for L in tiny_cfg.imdb.eval_lengths]
    for L in tiny_cfg.imdb.eval_lengths:
        ref = scores(predict(model, test, L, tiny_cfg.imdb.truncation, 3, CPU32), test.labels)
        assert out[str(L)]["acc"] == pytest.approx(ref["acc"])
        assert out[str(L)]["loss"] == pytest.approx(ref["loss"], rel=1e-5)
        assert out[str(L)]["frac_truncated"] == pytest.approx(float((test.lengths > L).mean()))
        assert sum(b["n"] for b in out[str(L)]["buckets"].values()) == len(test)
    # reviews no longer than the first length get the same logits at every length
    first, last = tiny_cfg.imdb.eval_lengths[0], tiny_cfg.imdb.eval_lengths[-1]
    short = np.flatnonzero(test.lengths <= first)
    a = predict(model, test, first, tiny_cfg.imdb.truncation, 4, CPU32, short)
    b = predict(model, test, last, tiny_cfg.imdb.truncation, 4, CPU32, short)
    assert np.allclose(a, b, atol=1e-5)


def test_an_evaluation_variant_is_the_trained_pe_at_the_training_length_and_rescales_beyond(prepared, tiny_cfg):
    """RoPE's variants on IMDb (issue 16): scale 1 at imdb.train_max_len gives the plain scores exactly; longer
    reviews are scored with the variant (position interpolation at scale L / T changes them); the PE is left
    as trained afterwards."""
    tok, splits, _ = prepared
    model = make_classifier(tiny_cfg, "rope", tok.get_vocab_size())
    test, T = splits["test"], tiny_cfg.imdb.train_max_len
    longer = [L for L in tiny_cfg.imdb.eval_lengths if L > T]
    assert T in tiny_cfg.imdb.eval_lengths and longer and (test.lengths > T).any()
    plain = evaluate_classifier(model, test, tiny_cfg, CPU32)
    pi = evaluate_classifier(model, test, tiny_cfg, CPU32, variant="pi")
    assert pi[str(T)]["per_review"] == plain[str(T)]["per_review"] and pi[str(T)]["loss"] == plain[str(T)]["loss"]
    assert all(pi[str(L)]["loss"] != plain[str(L)]["loss"] for L in longer)
    assert evaluate_classifier(model, test, tiny_cfg, CPU32) == plain  # set back to the trained PE


def test_test_subset_is_stratified_seeded_and_keeps_each_review_whole():
    """imdb.test_reviews: a cheaper evaluation on a fixed stratified subset; 0 (or too many) keeps all."""
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 30, size=200)
    labels = np.repeat([0, 1], [140, 60])
    tokens = rng.integers(0, 50, size=int(lengths.sum())).astype(np.int32)
    test = imdb.Encoded(lengths, tokens, labels)
    sub = imdb.test_subset(test, 50, seed=0)
    assert len(sub) == 50 and sub.labels.sum() == 15  # the 30 % of positives kept
    assert imdb.test_subset(test, 50, seed=0).tokens.tobytes() == sub.tokens.tobytes()  # seeded
    assert imdb.test_subset(test, 50, seed=1).tokens.tobytes() != sub.tokens.tobytes()
    whole = {tuple(tokens[o:o + k]) for o, k in zip(test.offsets, lengths)}
    assert all(tuple(sub.tokens[o:o + k]) in whole for o, k in zip(sub.offsets, sub.lengths))
    assert imdb.test_subset(test, 0, seed=0) is test and imdb.test_subset(test, 500, seed=0) is test
