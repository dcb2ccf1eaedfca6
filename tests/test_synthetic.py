"""Copy / duplicate data: format, targets, lengths, determinism, bad files."""

import numpy as np
import pytest

from posenc.data import synthetic
from posenc.data.synthetic import IGNORE, LengthSampler, Sources
from posenc.config import min_length
from posenc.errors import ConfigError, DataError
from posenc import io

V = 100
SEP, PAD = 100, 101


def test_copy_format_and_targets():
    src = np.array([5, 6, 7])
    idx, labels = synthetic.make_batch([src], "copy", V)
    assert idx[0].tolist() == [5, 6, 7, SEP, 5, 6, 7]
    # predictions from SEP onwards: SEP->5, 5->6, 6->7; nothing before SEP, nothing after the end
    assert labels[0].tolist() == [IGNORE, IGNORE, IGNORE, 5, 6, 7, IGNORE]


def test_duplicate_format_and_targets():
    src = np.array([1, 2])
    idx, labels = synthetic.make_batch([src], "duplicate", V)
    assert idx[0].tolist() == [1, 2, SEP, 1, 2, 1, 2]
    assert labels[0].tolist() == [IGNORE, IGNORE, 1, 2, 1, 2, IGNORE]


BLANK = 102


def test_blank_format_reads_outputs_at_placeholders_and_shows_no_target():
    """The brief's format: [a1..an, SEP, BLANK x n] -> a1..an at the BLANK positions (duplicate: 2n)."""
    src = np.array([5, 6, 7])
    idx, labels = synthetic.make_batch([src], "copy_blank", V)
    assert idx[0].tolist() == [5, 6, 7, SEP, BLANK, BLANK, BLANK]
    assert labels[0].tolist() == [IGNORE] * 4 + [5, 6, 7]
    idx, labels = synthetic.make_batch([src], "duplicate_blank", V)
    assert idx[0].tolist() == [5, 6, 7, SEP] + [BLANK] * 6 and labels[0].tolist() == [IGNORE] * 4 + [5, 6, 7] * 2
    for fmt in ("copy", "duplicate"):  # same lengths and number of targets as the teacher-forced format
        a, la = synthetic.make_batch([src], fmt, V)
        b, lb = synthetic.make_batch([src], f"{fmt}_blank", V)
        assert a.shape == b.shape and int((la != IGNORE).sum()) == int((lb != IGNORE).sum())
    assert synthetic.model_vocab(V) == BLANK + 1


@pytest.mark.parametrize("fmt", ["copy", "duplicate"])
def test_a_start_token_puts_sep_in_front_and_keeps_every_target_one_position_later(fmt):
    """*_start: SEP a1..an SEP <targets>, the plain task's sequence and labels shifted by one, ragged too."""
    srcs = [np.array([5, 6, 7]), np.array([9])]
    a, la = synthetic.make_batch(srcs, fmt, V)
    b, lb = synthetic.make_batch(srcs, f"{fmt}_start", V)
    assert b.shape == (2, a.shape[1] + 1) and (b[:, 0] == SEP).all() and b[:, 1:].equal(a)
    assert (lb[:, 0] == IGNORE).all() and lb[:, 1:].equal(la)
    assert b[0].tolist()[:5] == [SEP, 5, 6, 7, SEP] and lb[0].tolist()[4] == 5  # the middle SEP predicts a1


@pytest.mark.parametrize("fmt", ["copy", "duplicate"])
def test_a_start_task_draws_its_plain_tasks_sources_and_fits_its_lengths(tiny_cfg, fmt):
    """Paired with the plain task: a split whose n is the same in both formats holds the same sources."""
    s = tiny_cfg.synthetic
    plain, start = synthetic.generate(s, fmt, seed=3), synthetic.generate(s, f"{fmt}_start", seed=3)
    same = [k[: -len("_lengths")] for k in plain if k.endswith("_lengths") and np.array_equal(plain[k], start[k])]
    assert same and all(np.array_equal(plain[f"{k}_tokens"], start[f"{k}_tokens"]) for k in same)
    for L in synthetic.eval_lengths(s):
        n = synthetic.n_for_length(f"{fmt}_start", L)
        assert synthetic.total_length(f"{fmt}_start", n) <= L < synthetic.total_length(f"{fmt}_start", n + 1)
    assert min_length(f"{fmt}_start") == min_length(fmt) + 1


def test_ragged_batch_is_right_padded_and_pads_are_never_targets():
    idx, labels = synthetic.make_batch([np.array([1]), np.array([1, 2, 3])], "copy", V)
    assert idx.shape == (2, 7)
    assert idx[0, 3:].tolist() == [PAD] * 4
    assert (labels[0, 3:] == IGNORE).all()


@pytest.mark.parametrize("task,L,n", [("copy", 256, 127), ("copy", 1024, 511), ("duplicate", 256, 85),
                                      ("duplicate", 1024, 341), ("copy", 3, 1), ("copy_start", 256, 127),
                                      ("copy_start", 4, 1), ("duplicate_start", 1024, 340)])
def test_n_for_length_fills_the_length(task, L, n):
    assert synthetic.n_for_length(task, L) == n
    assert synthetic.total_length(task, n) <= L < synthetic.total_length(task, n + 1)


def test_impossible_length_is_an_error():
    with pytest.raises(ConfigError, match="length 3 is impossible for task 'duplicate'"):
        synthetic.n_for_length("duplicate", 3)


@pytest.mark.parametrize("task", synthetic.REPEATS)
def test_generate_is_deterministic_and_respects_lengths(tiny_cfg, task):
    s = tiny_cfg.synthetic
    a = synthetic.generate(s, task, seed=3)
    b = synthetic.generate(s, task, seed=3)
    c = synthetic.generate(s, task, seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["train_tokens"], c["train_tokens"])
    n_max = synthetic.n_for_length(task, s.train_max_len)
    assert a["train_lengths"].min() >= 1 and a["train_lengths"].max() <= n_max
    assert (a["val_lengths"] == n_max).all()
    for L in synthetic.eval_lengths(s):
        assert (a[f"eval_{L}_lengths"] == synthetic.n_for_length(task, L)).all()
    assert a["train_tokens"].max() < s.vocab_size


def test_sampler_batches_share_one_length_and_follow_the_curriculum():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 128, size=2000)
    src = Sources(lengths, rng.integers(0, V, size=lengths.sum()).astype(np.uint8))
    sampler = LengthSampler(src, "copy", batch_size=8, start_len=17, ramp_steps=100, rng=rng)
    assert sampler.n_max(0) == 8 and sampler.n_max(100) == 127 and sampler.n_max(50) == 8 + (127 - 8) // 2
    for step in (0, 10, 60, 200):
        batch = sampler.sample(step)
        assert len(batch) == 8 and len({len(b) for b in batch}) == 1
        assert len(batch[0]) <= sampler.n_max(step)
    no_ramp = LengthSampler(src, "copy", batch_size=8, start_len=17, ramp_steps=0, rng=rng)
    assert no_ramp.n_max(0) == 127


def _small_sampler(seed: int, long_share: float) -> LengthSampler:
    lengths = np.repeat(np.arange(1, 21), 5)
    src = Sources(lengths, np.zeros(int(lengths.sum()), dtype=np.uint8))
    return LengthSampler(src, "copy", batch_size=4, start_len=9, ramp_steps=10, rng=np.random.default_rng(seed),
                         long_share=long_share)


def test_a_long_share_of_zero_consumes_the_generator_as_the_uniform_draw():
    # the committed study parts were trained with the uniform draw: long_share 0 must redraw them exactly
    sampler, rng = _small_sampler(3, 0.0), np.random.default_rng(3)
    for step in range(60):
        allowed = sampler.n_values[sampler.n_values <= sampler.n_max(step)]
        n = int(rng.choice(allowed))
        picks = rng.choice(sampler.by_n[n], size=4, replace=len(sampler.by_n[n]) < 4)
        batch = sampler.sample(step)
        assert [b.tolist() for b in batch] == [sampler.sources.get(i).tolist() for i in picks]


@pytest.mark.parametrize("q", [1.0, 0.5, 0.25])
def test_a_long_share_draws_the_longest_n_that_often_after_the_curriculum_only(q):
    sampler = _small_sampler(0, q)
    drawn = np.array([len(sampler.sample(step)[0]) for step in range(3000)])
    assert drawn[:10].max() < 20  # the curriculum is unchanged
    uniform = 1 / 20  # a uniform draw lands on the longest n this often
    assert abs(np.mean(drawn[10:] == 20) - (q + (1 - q) * uniform)) < 0.03


@pytest.mark.parametrize("q", [-0.1, 1.5])
def test_a_long_share_outside_zero_to_one_is_a_one_line_error_naming_the_key(tiny_params_dict, q):
    from posenc import config
    tiny_params_dict["train"]["long_share"] = q
    with pytest.raises(ConfigError, match=r"^train\.long_share: must be in \[0, 1\]"):
        config.from_dict(tiny_params_dict)


def test_load_round_trip(tmp_path, tiny_cfg):
    path = tmp_path / "copy.npz"
    io.save_npz(path, synthetic.generate(tiny_cfg.synthetic, "copy", 0))
    splits = synthetic.load(path, "copy", V)
    assert {"train", "val", "eval_16", "eval_24", "eval_32"} <= set(splits)
    assert len(splits["val"]) == tiny_cfg.synthetic.val_size


def test_missing_corrupt_and_mismatched_files_are_clear_errors(tmp_path, tiny_cfg):
    with pytest.raises(DataError, match="not found"):
        synthetic.load(tmp_path / "nope.npz", "copy", V)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not an npz archive")
    with pytest.raises(DataError, match="bad.npz: corrupt"):
        synthetic.load(bad, "copy", V)
    good = tmp_path / "dup.npz"
    io.save_npz(good, synthetic.generate(tiny_cfg.synthetic, "duplicate", 0))
    with pytest.raises(DataError, match="expected copy"):
        synthetic.load(good, "copy", V)
    truncated = tmp_path / "trunc.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(DataError, match="trunc.npz"):
        synthetic.load(truncated, "duplicate", V)


def test_far_lengths_live_in_their_own_file_and_never_change_the_training_data(tmp_path, tiny_cfg):
    """The study evaluates further out than the default with the same models: the file every train stage
    depends on must not move with far_lengths, and a far set is the set that length would get anywhere."""
    from dataclasses import replace

    none, far = replace(tiny_cfg.synthetic, far_lengths=()), tiny_cfg.synthetic
    assert far.far_lengths
    a, b = synthetic.generate(none, "copy", 0), synthetic.generate(far, "copy", 0)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    L = far.far_lengths[0]
    arrays = synthetic.generate_far(far, "copy", 0)
    as_curve = synthetic.generate(replace(none, curve_lengths=(*none.curve_lengths, L)), "copy", 0)
    assert np.array_equal(arrays[f"eval_{L}_tokens"], as_curve[f"eval_{L}_tokens"])
    io.save_npz(tmp_path / "main.npz", b)
    io.save_npz(tmp_path / "far.npz", arrays)
    splits = synthetic.load_for_eval(tmp_path / "main.npz", "copy", far, tmp_path / "far.npz")
    assert set(synthetic.eval_lengths(far, far=True)) == {int(k[5:]) for k in splits if k.startswith("eval_")}
    with pytest.raises(DataError, match="no evaluation split"):
        synthetic.load_for_eval(tmp_path / "main.npz", "copy", far, tmp_path / "main.npz")
