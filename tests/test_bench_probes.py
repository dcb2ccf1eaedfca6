"""The probing benches: bench/sharpen.py, clamp, head roles, layered windows, key collisions and wrong keys
(what each probe changes in a model, and that it undoes it)."""

import pytest

from conftest import bench_script, default_sections, tiny_spec
from posenc.errors import ConfigError


@pytest.fixture(scope="module")
def sharpen():
    return bench_script("sharpen")


def _hard_alibi():
    import torch

    from conftest import tiny_spec
    from posenc.nn.backbone import build_model
    torch.manual_seed(0)
    model = build_model(tiny_spec("hard_alibi")).eval()
    return model, torch.randint(0, 10, (2, 24))


def test_sharpening_by_one_changes_nothing_and_the_model_is_restored_after(sharpen):
    import torch
    model, idx = _hard_alibi()
    with torch.no_grad():
        plain = model(idx)
        with sharpen.sharpened(model, [3], sharpen.factor_of("const:1", 16)):
            same = model(idx)
        with pytest.raises(RuntimeError), sharpen.sharpened(model, [3], sharpen.factor_of("const:4", 16)):
            raise RuntimeError
        after = model(idx)
    assert torch.equal(plain, same) and torch.equal(plain, after) and "rotate" not in vars(model.pe)


def test_sharpening_a_head_makes_only_that_head_colder(sharpen):
    import torch
    model, idx = _hard_alibi()
    with torch.no_grad():
        _, plain = model(idx, need_weights=True)
        with sharpen.sharpened(model, [3], sharpen.factor_of("const:4", 16)):
            _, cold = model(idx, need_weights=True)
    first = (plain[0], cold[0])  # layer 0: its inputs are the same either way; (B, H, T, T)
    assert torch.equal(first[0][:, :3], first[1][:, :3]) and not torch.allclose(first[0][:, 3], first[1][:, 3])
    entropy = lambda w: -(w.clamp(min=1e-12).log() * w).sum(-1).mean()  # noqa: E731
    assert entropy(first[1][:, 3]) < entropy(first[0][:, 3])


def test_log_length_factors_are_one_inside_the_training_length_and_grow_as_log_beyond(sharpen):
    import math

    import torch
    f = sharpen.factor_of("logn:2", 16)(torch.arange(64))
    assert torch.equal(f[:16], torch.ones(16))
    assert f[63].item() == pytest.approx((math.log(64) / math.log(16)) ** 2) and bool((f[16:].diff() > 0).all())


@pytest.mark.parametrize("spec", ["const", "const:0", "logn:x", "temp:2"])
def test_a_wrong_factor_is_a_one_line_error(sharpen, spec):
    with pytest.raises(ConfigError, match="--factors"):
        sharpen.factor_of(spec, 16)


def test_heads_out_of_range_are_a_one_line_error(sharpen):
    model, _ = _hard_alibi()
    with pytest.raises(ConfigError, match="--heads"), sharpen.sharpened(model, [4], sharpen.factor_of("const:2", 16)):
        pass


@pytest.fixture(scope="module")
def clamp():
    return bench_script("learned_clamp")


def test_the_late_vector_replaces_only_positions_past_the_table_and_is_undone(clamp):
    import torch

    from conftest import tiny_spec
    from posenc.nn.backbone import build_model
    torch.manual_seed(0)
    model = build_model(tiny_spec("learned")).eval()
    pe, rows = model.pe, model.pe.table.num_embeddings
    x, positions = torch.randn(1, 3 * rows, 32), torch.arange(3 * rows)
    before = pe.embed(x, positions)
    with clamp.late_vector(model, clamp.replacement(pe, "zero")):
        zeroed = pe.embed(x, positions)
    with clamp.late_vector(model, clamp.replacement(pe, "row:3")):
        row3 = pe.embed(x, positions)
    with clamp.late_vector(model, clamp.replacement(pe, "trained")):
        same = pe.embed(x, positions)
    assert torch.equal(zeroed[:, :rows], before[:, :rows]) and torch.equal(zeroed[:, rows:], x[:, rows:])
    assert torch.allclose(row3[:, rows:], x[:, rows:] + pe.table.weight[3])
    assert torch.equal(same, before) and torch.equal(pe.embed(x, positions), before)  # undone
    assert pe.table.num_embeddings == rows and "clamp_row" not in vars(pe)


@pytest.mark.parametrize("how", ["row:99", "row:x", "mean"])
def test_a_wrong_late_vector_is_a_one_line_error(clamp, how):
    from conftest import tiny_spec
    from posenc.nn.backbone import build_model
    with pytest.raises(ConfigError, match="--vectors"):
        clamp.replacement(build_model(tiny_spec("learned")).pe, how)


def test_the_changed_predictions_are_counted_from_the_training_length_on(clamp):
    label = "0011"
    scores = {L: {"per_review": {"label": label, "pred": p}} for L, p in (("16", "0101"), ("32", "1100"))}
    assert clamp.changed(scores, 16, "16") == {}  # the training length itself: nothing to compare
    assert clamp.changed(scores, 16, "32") == {"changed_to": [1, 1]}  # review 3 -> negative, review 0 -> positive


@pytest.fixture(scope="module")
def roles():
    return bench_script("head_roles")


def test_a_previous_token_head_scores_one_and_an_even_spread_scores_the_reference(roles):
    import torch
    T = 12
    prev = torch.zeros(1, 1, T, T)
    prev[0, 0, 0, 0] = 1.0
    prev[0, 0, torch.arange(1, T), torch.arange(T - 1)] = 1.0  # query t -> key t - 1
    even = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]  # query t -> keys 0..t evenly
    out = roles.head_roles([torch.cat([prev, even[None, None]], 1)], n=None)  # one layer, two heads
    assert out["prev"] == [[1.0, out["uniform"]]] and out["source"] is None
    assert out["first"][0][0] == round(1 / (T - 1), 4)  # only query 1's predecessor is key 0
    assert 0 < out["uniform"] < 0.5


def test_a_copy_head_is_found_at_the_source_key(roles):
    import torch
    n, T = 5, 11  # source a1..a5, SEP, then the copy: target query t reads key t - n
    w = torch.zeros(1, 1, T, T)
    w[0, 0, torch.arange(T), torch.arange(T)] = 1.0
    w[0, 0, torch.arange(n, 2 * n), torch.arange(0, n)] = 1.0
    w[0, 0, torch.arange(n, 2 * n), torch.arange(n, 2 * n)] = 0.0
    out = roles.head_roles([w], n=n)
    assert out["source"] == [[1.0]] and out["prev"] == [[0.0]]


def test_head_roles_of_a_trained_model_have_one_number_per_layer_and_head(roles, tiny_cfg, tmp_path):
    from posenc import io
    from posenc.data import synthetic
    from posenc.engine.lm import train_lm
    from posenc.engine.runtime import resolve

    io.save_npz(tmp_path / "copy.npz", synthetic.generate(tiny_cfg.synthetic, "copy", tiny_cfg.seed))
    splits = synthetic.load(tmp_path / "copy.npz", "copy", tiny_cfg.synthetic.vocab_size)
    model = train_lm(tiny_cfg, "nope", "copy", splits, 0, progress=False, rt=resolve("float32"))["model"]
    out = roles.probe(model, splits, "copy", tiny_cfg, size=4)
    shape = [tiny_cfg.model.n_heads] * tiny_cfg.model.n_layers
    for key in ("prev", "first", "source"):
        assert [len(layer) for layer in out[key]] == shape
        assert all(0 <= x <= 1 for layer in out[key] for x in layer)


@pytest.fixture(scope="module")
def layered():
    return bench_script("layer0_windows")


def _layered_model(layered, first, rest):
    import torch

    from conftest import tiny_spec

    layered.FirstLayerWindowed.FIRST, layered.FirstLayerWindowed.REST = tuple(first), tuple(rest)
    torch.manual_seed(0)
    return layered.FirstLayerWindowed(tiny_spec("hard_alibi", pe_params={"windows": [2, 3, 4]})).eval()


def test_the_same_windows_in_every_layer_is_the_pipelines_hard_alibi(layered):
    import torch

    from conftest import tiny_spec
    from posenc.nn.backbone import build_model

    torch.manual_seed(0)
    plain = build_model(tiny_spec("hard_alibi", pe_params={"windows": [2, 3, 4]})).eval()
    idx = torch.randint(0, 12, (2, 20))
    assert torch.equal(_layered_model(layered, [2, 3, 4], [2, 3, 4])(idx), plain(idx))
    assert not torch.equal(_layered_model(layered, [2, 3, 4, 5], [2, 3, 4])(idx), plain(idx))


def test_layer_0_keeps_every_head_in_its_window_and_layer_1_follows_rest(layered):
    import torch

    _, (w0, w1) = _layered_model(layered, [2, 3, 4, 5], [3])(torch.randint(0, 12, (2, 16)), need_weights=True)
    i, j = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")  # w: (B, H, T, T)
    for h, w in enumerate((2, 3, 4, 5)):
        assert (w0[:, h][:, i - j >= w] == 0).all() and (w0[:, h][:, (i - j >= 0) & (i - j < w)] > 0).all()
    assert (w1[:, 0][:, i - j >= 3] == 0).all() and (w1[:, 1:][:, :, i - j >= 5] > 0).all()


@pytest.fixture(scope="module")
def collisions():
    return bench_script("key_collisions")


def test_per_key_rates_split_the_repeated_pairs_from_the_other_errors(collisions, tmp_path):
    import json
    import math

    per_seq = {"right": [4, 3, 2, 4], "wrong_at_pairs": [0, 1, 0, 0], "pairs": [1, 2, 0, 0]}
    at_9 = {"n_seqs": 4, "targets": 4, "seq_len": 9, "exact_match": 0.5, "per_seq": per_seq}
    no_pairs = {"n_seqs": 4, "targets": 8, "seq_len": 17, "exact_match": 1.0, "per_seq": {"right": [8] * 4}}
    path = tmp_path / "copy_x_s0.json"
    path.write_text(json.dumps({"task": "copy", "pe": "x", "seed": 0, "lengths": {"9": at_9, "17": no_pairs}}))
    m = collisions.model_rates(path)
    assert list(m["lengths"]) == ["9"]  # a length without error records is left out
    r = m["lengths"]["9"]
    assert r["pair_error"] == pytest.approx(1 / 3) and r["other_error"] == pytest.approx(2 / 13)
    assert r["per_key"] == pytest.approx(2 / 13 / 6.5) and r["keys"] == 6.5
    assert math.exp(-r["per_key_for_95_exact"] * 6.5 * 4) == pytest.approx(0.95)
    assert r["predicted_exact"] == pytest.approx(math.exp(-(2 / 13 * 4 + 1 / 3 * 3 / 4)))  # at its own length
    path.write_text(json.dumps({"lengths": {}}))
    with pytest.raises(Exception, match="copy_x_s0.json: not an evaluation with error records"):
        collisions.model_rates(path)


@pytest.fixture(scope="module")
def wrong_keys():
    return bench_script("wrong_keys")


def test_a_key_matches_as_many_tokens_as_end_there_and_at_the_query(wrong_keys):
    import numpy as np

    seq = np.array([5, 6, 7, 1, 6, 7])  # the query at t = 5 ends in (6, 7); so does position 2
    assert wrong_keys.matches(seq, 5).tolist() == [0, 0, 2, 0, 0]
    m = wrong_keys.matches(seq, 5)
    assert wrong_keys.best_key(seq, 5, m, 1) == (2, 2)  # token 1 follows position 2, a 2-token match
    assert wrong_keys.best_key(seq, 5, m, 7) == (0, 1)  # 7 follows positions 1 and 4 (no match): the earliest
    assert wrong_keys.best_key(seq, 5, m, 9) == (-1, -1)  # 9 follows nothing: no key could supply it
    not_1 = np.ones(10, dtype=bool)
    not_1[1] = False  # the closest key followed by anything but the target 1: no 2-token match is left
    assert wrong_keys.best_key(seq, 5, m, not_1) == (0, 0)
    assert wrong_keys.matches(np.array([3, 3, 3, 3, 3, 3]), 5).tolist() == [1, 2, 3, 4, 4]  # capped at CAP


def test_a_slip_is_binned_by_its_best_key_beside_a_null_over_the_other_tokens(wrong_keys):
    import numpy as np

    seq = np.array([5, 6, 7, 1, 2, 9, 6, 7])  # query at t = 7; target 1 (after the matching key 2)
    s = wrong_keys.slip_keys(seq, 7, 9, 1, np.arange(10))  # said 9, which follows position 4 (token 2)
    assert s["bin"] == "0" and s["where"] == 4
    assert s["null"].sum() == pytest.approx(1.0)
    # the other 8 tokens: 2, 6 and 7 follow keys that match nothing (positions 3; 0 and 5; 1 and 6);
    # 0, 3, 4, 5 and 8 follow no position at all
    assert dict(zip(wrong_keys.BINS, s["null"].tolist())) == pytest.approx(
        {"none": 5 / 8, "0": 3 / 8, "1": 0.0, "2": 0.0, "3+": 0.0})


def test_narrowing_respells_a_share_of_the_sequences_over_small_alphabets_and_keeps_the_rest(wrong_keys):
    import numpy as np

    from posenc.data.synthetic import Sources

    rng = np.random.default_rng(0)
    src = Sources(lengths=np.full(400, 60), tokens=rng.integers(0, 100, 400 * 60).astype(np.uint8))
    out = wrong_keys.narrowed(src, 0.5, 20, 100, seed=0)
    assert out.tokens.dtype == src.tokens.dtype and (out.lengths == src.lengths).all()
    changed = [i for i in range(400) if not np.array_equal(out.get(i), src.get(i))]
    assert 150 < len(changed) < 250  # about half
    assert all(len(set(out.get(i).tolist())) <= 20 for i in changed)
    # within a sequence, the tokens of one residue class mod 20 all become one token of its alphabet
    i = changed[0]
    assert all(len({b for a2, b in zip(src.get(i), out.get(i)) if a2 % 20 == a}) <= 1 for a in range(20))
    assert np.array_equal(wrong_keys.narrowed(src, 0.5, 20, 100, seed=0).tokens, out.tokens)  # deterministic


def test_narrowing_over_several_alphabet_sizes_draws_one_per_sequence(wrong_keys):
    import numpy as np

    from posenc.data.synthetic import Sources

    rng = np.random.default_rng(1)
    src = Sources(lengths=np.full(300, 80), tokens=rng.integers(0, 100, 300 * 80).astype(np.uint8))
    out = wrong_keys.narrowed(src, 1.0, [5, 20], 100, seed=0)
    sizes = [len(set(out.get(i).tolist())) for i in range(300)]
    assert all(s <= 20 for s in sizes)
    small = sum(s <= 5 for s in sizes)
    assert 100 < small < 200  # about half drew the 5-token alphabet
    assert np.array_equal(wrong_keys.narrowed(src, 1.0, [5, 20], 100, seed=0).tokens, out.tokens)
    # a one-element list is the single size, draw for draw
    assert np.array_equal(wrong_keys.narrowed(src, 0.5, [20], 100, seed=0).tokens,
                          wrong_keys.narrowed(src, 0.5, 20, 100, seed=0).tokens)


def test_probe_length_accounts_for_every_slip_once_by_key_and_by_copy_index(wrong_keys, tiny_cfg, untrained_copy):
    from posenc.analysis.errors import pair_ambiguous
    from posenc.engine.runtime import resolve

    model, splits = untrained_copy
    V, L = tiny_cfg.synthetic.vocab_size, tiny_cfg.synthetic.eval_lengths[0]
    sources = splits[f"eval_{L}"]
    pairs = pair_ambiguous(sources, "copy", V)
    r = wrong_keys.probe_length(model, sources, "copy", tiny_cfg, resolve("float32"), pairs)
    assert r["slips"] > 0
    assert sum(r["slips_by_copy_index"]) == r["slips"] == sum(r["slips_by_distractor"].values())
    assert sum(sum(c.values()) for c in r["counts"].values()) == r["slips"]
    targets = sum(r["targets_by_distractor"].values())
    assert targets == int(sources.lengths.sum())  # copy: one target per source token
    assert abs(1 - r["slips"] / targets - r["token_acc"]) < 1e-9


def test_log_scaling_multiplies_only_the_unwindowed_heads_queries_by_log_keys(wrong_keys, monkeypatch):
    import math

    import torch

    from posenc.nn.backbone import build_model
    from posenc.nn.pe.hard_alibi import HardAlibi

    monkeypatch.setattr(HardAlibi, "rotate", HardAlibi.rotate)  # restored after the test
    pe = build_model(tiny_spec("hard_alibi")).pe
    q, k = torch.randn(2, 4, 9, 8), torch.randn(2, 4, 9, 8)
    wrong_keys.log_scaled(17)
    q2, k2 = pe.rotate(q, k, torch.arange(9))
    assert torch.equal(k2, k)
    windowed = len(default_sections()["hard_alibi"]["windows"])
    assert torch.equal(q2[:, :windowed], q[:, :windowed])
    f = torch.log(torch.arange(9).float() + 1) / math.log(17)
    assert torch.allclose(q2[:, windowed:], q[:, windowed:] * f[None, None, :, None])
    assert (q2[:, windowed:, 0] == 0).all()  # one key: nothing to choose between


def test_first_layer_windows_build_hard_alibi_with_its_own_layer0_and_reject_other_pes(wrong_keys, tiny_cfg,
                                                                                      monkeypatch):
    import dataclasses

    import posenc.engine.lm as lm

    monkeypatch.setattr(lm, "build_model", lm.build_model)  # restored after the test
    with pytest.raises(ConfigError, match="--first"):
        wrong_keys.first_layer("rope", [2, 3], tiny_cfg)
    with pytest.raises(ConfigError, match="--first"):
        wrong_keys.first_layer("hard_alibi", [2] * (tiny_cfg.model.n_heads + 1), tiny_cfg)
    wrong_keys.first_layer("hard_alibi", [2, 3], tiny_cfg)
    model = lm.build_model(dataclasses.replace(lm.lm_spec(tiny_cfg, "hard_alibi"), n_layers=2))
    assert model.layer_windows[0][:2].tolist() == [2.0, 3.0]
    assert model.layer_windows[1][: len(tiny_cfg.pe["hard_alibi"]["windows"])].tolist() == \
        [float(w) for w in tiny_cfg.pe["hard_alibi"]["windows"]]


def test_sharpened_scores_at_factor_one_are_the_plain_scores(wrong_keys, tiny_cfg, untrained_copy):
    from posenc.engine.lm import score_sequences
    from posenc.engine.runtime import resolve

    model, splits = untrained_copy
    out = wrong_keys.sharpened_scores(model, splits, "copy", tiny_cfg, ["const:1", "logn:4"])
    assert set(out) == {"const:1", "logn:4"}
    assert sorted(map(int, out["const:1"])) == sorted(tiny_cfg.synthetic.eval_lengths)
    for key in out["const:1"]:
        L = int(key)
        plain = score_sequences(model, splits[f"eval_{L}"], "copy", tiny_cfg, resolve("float32"))
        assert out["const:1"][key]["exact_match"] == plain["exact"].mean()
        assert out["const:1"][key]["token_acc"] == plain["right"].sum() / plain["targets"].sum()
    assert "rotate" not in vars(model.pe)  # restored


@pytest.fixture(scope="module")
def t5_buckets():
    return bench_script("t5_buckets")


@pytest.mark.parametrize("task", ["copy", "duplicate", "copy_start"])
def test_every_target_is_n_positions_back_from_the_position_that_predicts_it(t5_buckets, task):
    import numpy as np

    from posenc.data import synthetic

    rng = np.random.default_rng(0)
    for length in (16, 40, 64):
        distances = t5_buckets.copy_distances(task, length)
        n = max(distances)
        idx, labels = synthetic.make_batch([rng.integers(0, 10, n) for _ in range(4)], task, 12)
        b, p = np.nonzero(labels.numpy() != synthetic.IGNORE)  # row-major: each sequence's targets in order
        target = np.tile(np.arange(n * synthetic.REPEATS[task]), 4)  # which target of its sequence
        d = np.where(target < n, n, min(distances))  # the first copy reads the source, a later one the copy before
        assert len(p) == len(target) and (p - d >= 0).all()
        assert (labels.numpy()[b, p] == idx.numpy()[b, p - d]).all()
        assert not (labels.numpy()[b, p] == idx.numpy()[b, p - d + 1]).all()  # one off is not the copy


def test_remapping_the_copy_distances_changes_only_those_distances_and_is_undone(t5_buckets):
    import torch

    from posenc.nn.backbone import build_model

    model = build_model(tiny_spec("t5", max_positions=64)).eval()
    torch.nn.init.normal_(model.pe.bias.weight)  # T5 starts at zero: give every bucket its own scalars
    pos = torch.arange(40)
    plain = model.pe.score_bias(pos, pos)  # (H, T, T)
    with t5_buckets.remapped(model, [29, 30], 2):
        moved = model.pe.score_bias(pos, pos)
    at = ((pos[:, None] - pos[None, :]) == 30) | ((pos[:, None] - pos[None, :]) == 29)
    assert torch.equal(moved[:, at], model.pe.bias.weight[2][:, None].expand(-1, int(at.sum())))
    assert torch.equal(moved[:, ~at], plain[:, ~at]) and not torch.equal(moved, plain)
    assert "score_bias" not in vars(model.pe) and torch.equal(model.pe.score_bias(pos, pos), plain)
    assert t5_buckets.bucket_of(model, 30) != 2


def test_the_bucket_probe_refuses_a_pe_without_t5_buckets_before_scoring(t5_buckets, tiny_cfg):
    from posenc.nn.backbone import build_model

    with pytest.raises(ConfigError, match="T5"):
        t5_buckets.probe(build_model(tiny_spec("alibi")), {}, "copy", tiny_cfg, None, [32])


@pytest.fixture(scope="module")
def late():
    return bench_script("sinusoidal_late")


def test_late_codes_change_only_positions_past_the_training_length_and_are_undone(late):
    import torch

    from conftest import tiny_spec
    from posenc.nn.backbone import build_model
    model = build_model(tiny_spec("sinusoidal")).eval()
    pe, T = model.pe, 8
    table, positions, x = pe.table, torch.arange(3 * T), torch.zeros(1, 3 * T, pe.table.shape[1])
    trained = late.late_codes(table, positions, T, "trained")
    assert torch.equal(trained, table[:3 * T])
    for how in ("zero", "clamp", "squeeze"):
        codes = late.late_codes(table, positions, T, how)
        assert torch.equal(codes[:1], trained[:1]) and not torch.equal(codes[T:], trained[T:]), how
    assert torch.equal(late.late_codes(table, positions, T, "zero")[T:], torch.zeros(2 * T, table.shape[1]))
    assert torch.equal(late.late_codes(table, positions, T, "clamp")[T:], table[T - 1].expand(2 * T, -1))
    squeezed = late.late_codes(table, positions, T, "squeeze")  # position 3T-1 -> T-1: its code, to float precision
    assert torch.allclose(squeezed[-1], table[T - 1], atol=1e-6) and torch.allclose(squeezed[0], table[0])
    assert torch.equal(late.late_codes(table, positions[:T], T, "squeeze"), trained[:T])  # nothing past T
    with late.replaced(model, T, "zero"):
        assert torch.equal(pe.embed(x, positions)[0, T:], torch.zeros(2 * T, table.shape[1]))
    assert torch.equal(pe.embed(x, positions)[0], trained) and "embed" not in vars(pe)  # undone
    with pytest.raises(ConfigError, match="--codes"):
        late.late_codes(table, positions, T, "mean")


@pytest.fixture(scope="module")
def blur():
    return bench_script("nope_blur")


def test_a_slip_is_binned_by_the_nearest_source_position_holding_its_token(blur):
    import numpy as np
    src = np.array([5, 6, 7, 8, 9, 6, 1, 2, 3, 4], dtype=np.uint8)
    assert [blur.offset_bin(src, 2, t) for t in (6, 8, 9, 5, 42)] == ["-1", "+1", "+2", "-2", "none"]
    assert blur.offset_bin(src, 0, 3) == ">=+3" and blur.offset_bin(src, 9, 5) == "<=-3"
    assert blur.offset_bin(np.array([1, 2, 3, 2]), 2, 2) == "-1"  # a tie goes to the earlier position


def test_blur_slips_count_each_wrong_target_once_beside_a_null_that_sums_to_one(blur):
    import numpy as np
    import torch

    from posenc.data import synthetic
    V = 20
    srcs = [np.array([1, 2, 3, 4, 5]), np.array([6, 7, 8, 9, 10])]
    sources = synthetic.Sources(np.array([5, 5]), np.concatenate(srcs).astype(np.uint8))
    idx, labels = synthetic.make_batch(srcs, "copy", V)
    pred = torch.where(labels == synthetic.IGNORE, 0, labels)  # every target right
    t = torch.nonzero(labels[0] != synthetic.IGNORE).flatten()
    pred[0, t[1]] = 3  # target k = 1 (token 2) said as the source's next token: +1
    pred[1, t[4]] = 15  # target k = 4 said as a token the source does not hold: none
    out = blur.slips([pred], sources, "copy", V, batch_size=2)
    assert out["slips"] == 2 and out["counts"]["+1"] == 1 and out["counts"]["none"] == 1
    assert out["by_k"] == {"slips": [0, 1, 0, 0, 1], "near": [0, 1, 0, 0, 0]}
    assert abs(sum(out["null_share"].values()) - 1) < 1e-3
    # of the 18 other tokens one stands at -1 in each case (1 before k = 1; 9 before k = 4); 15 and 14 nowhere
    assert out["null_share"]["-1"] == round(1 / 18, 4) and out["null_share"]["none"] == round(29 / 36, 4)


def test_the_blur_profile_finds_the_copy_head_and_its_weight_around_the_right_key(blur):
    import numpy as np
    import torch

    from posenc.data import synthetic

    class Attends(torch.nn.Module):  # head 0 spreads evenly, head 1 reads the source key t - n, head 2 mostly t - 1
        def forward(self, idx, need_weights=False):
            B, T = idx.shape
            n = (T - 1) // 2
            w = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]
            w = w.expand(B, 3, T, T).clone()
            w[:, 1:] = 0
            w[:, 1, torch.arange(n, 2 * n), torch.arange(n)] = 1.0
            w[:, 2, 1, 0] = 1.0
            w[:, 2, torch.arange(2, n), torch.arange(1, n - 1)] = 0.75
            w[:, 2, torch.arange(2, n), torch.arange(0, n - 2)] = 0.25
            return None, [w]

    sources = synthetic.Sources(np.array([4, 4]), np.arange(8, dtype=np.uint8))
    out = blur.profile(Attends(), sources, "copy", 20, size=2)
    assert (out["layer"], out["head"], out["source_mass"]) == (0, 1, 1.0)
    assert out["by_k"][0] == [None, None, 1.0, 0.0, 0.0] and out["by_k"][3] == [0.0, 0.0, 1.0, None, None]
    assert out["prev"] == {"layer": 0, "head": 2, "by_j": [[1.0, None, None], [0.75, 0.25, None], [0.75, 0.25, 0.0]]}


@pytest.mark.parametrize("argv, key", [(["nope", "--task", "duplicate"], "--task"),
                                       (["nope", "--grid", "500"], "--grid")])
def test_a_blur_run_it_cannot_make_is_a_one_line_error_before_training(blur, monkeypatch, argv, key):
    monkeypatch.setattr(blur, "train_lm", lambda *a, **k: pytest.fail("trained"))
    monkeypatch.setattr("sys.argv", ["nope_blur.py", *argv, "--out", "/nonexistent/x.json"])
    with pytest.raises(ConfigError, match=key):
        blur.main()


@pytest.fixture(scope="module")
def distance():
    return bench_script("read_distance")


def test_a_slips_distance_profile_marks_where_its_token_stands_beside_a_blind_null(distance):
    import numpy as np
    seq = np.array([1, 2, 3, 1, 9, 4, 5])  # 9: not a content token of a 6-token vocabulary
    hits, null = distance.slip_profile(seq, 5, pred=1, target=2, vocab_size=6)  # tokens at d = 1..5: 9, 1, 3, 2, 1
    assert hits.tolist() == [0, 0, 1, 0, 0, 1]
    assert null.tolist() == [0, 0, 0, 0.25, 0, 0]  # only 3 is content, not the target and not the prediction


class _Reader:
    """A copy 'model' that predicts the token `D` places before the target (SEP where there is none)."""

    def __new__(cls, D: int, vocab_size: int):
        import torch

        class Reader(torch.nn.Module):
            def each_draw(self, n):
                yield 0

            def forward(self, idx):  # (B, T) -> (B, T, V + 2) one-hot logits
                at = torch.arange(idx.shape[1]) + 1 - D  # the query at t predicts the token at t + 1
                said = torch.where(at >= 0, idx[:, at.clamp(min=0)], vocab_size)
                return torch.nn.functional.one_hot(said, vocab_size + 2).float()

        return Reader()


def test_a_reader_at_one_distance_peaks_there_and_a_near_miss_counts_near_the_right_one(distance, tiny_cfg, tmp_path):
    from posenc import io
    from posenc.data import synthetic
    from posenc.engine.runtime import resolve
    io.save_npz(tmp_path / "copy.npz", synthetic.generate(tiny_cfg.synthetic, "copy", 0))
    splits = synthetic.load(tmp_path / "copy.npz", "copy", tiny_cfg.synthetic.vocab_size)
    L = max(tiny_cfg.synthetic.eval_lengths)
    sources, rt, V = splits[f"eval_{L}"], resolve("float32"), tiny_cfg.synthetic.vocab_size
    n = int(sources.lengths[0])
    right = distance.profile_length(_Reader(n + 1, V), sources, "copy", tiny_cfg, rt)
    assert (right["slips"], right["right_distance"], right["exact_match"]) == (0, n + 1, 1.0)
    far = distance.profile_length(_Reader(3, V), sources, "copy", tiny_cfg, rt)
    assert far["top"][0]["d"] == 3 and far["top"][0]["hits"] == 1.0 and far["slips"] > 0
    assert far["excess_near_right"] < 0.5 < far["top"][0]["excess"]
    near = distance.profile_length(_Reader(n + 2, V), sources, "copy", tiny_cfg, rt)
    # a token the copy has said stands twice: at d in the source and at d - (n + 1) in the copy, so a read one
    # place behind the right one (d = n + 2) is also the query's own token (d = 1); both peak
    assert {x["d"] for x in near["top"][:2]} == {1, n + 2} and near["top"][0]["hits"] == 1.0
    assert near["excess_near_right"] > 0.5 and near["not_content"] == len(sources)  # k = 0 has no token n + 2 back


def test_a_distance_run_without_a_pe_or_tag_is_a_one_line_error(distance, monkeypatch):
    monkeypatch.setattr("sys.argv", ["read_distance.py", "alibi"])
    with pytest.raises(ConfigError, match="--tag"):
        distance.main()


@pytest.fixture(scope="module")
def fire_stretch():
    return bench_script("fire_stretch")


def test_the_stretch_table_lists_each_checkpoints_heads_and_its_scores_by_length(fire_stretch, tmp_path):
    from posenc import io
    run = {"previous_head": {"layer": 0, "head": 2, "w_trained": 0.35, "w_longest_inside": 0.35, "w_longest_past": None,
                             "bias_margin": {"1023": 0.3, "128": 0.6}},
           "copy_head": {"layer": 1, "head": 1, "mass_trained": 0.9, "mass_longest": 0.1,
                         "bias_gap": {"1024": -5.4, "256": 0.0}}, "c": 0.0156, "L": 255.8}
    io.write_json(tmp_path / "s.json", {"runs": {"a": run, "b": {**run, "scores": {"256": {"exact_match": 0.84},
                                                                                  "1024": {"exact_match": 0.0}}}}})
    lines = fire_stretch.table(tmp_path / "s.json").splitlines()
    assert "0.60 / 0.30" in lines[2] and "256: 0.00, 1024: -5.40" in lines[2] and "None" in lines[2]
    assert lines[-2].startswith("|---") and lines[-1] == "| b | 84.0 | 0.0 |" and "@256 | @1024" in lines[-3]


def test_the_right_keys_bias_gap_is_zero_where_the_bias_favours_it_and_negative_elsewhere(fire_stretch):
    import torch

    class Pe:
        def __init__(self, favour):
            self.favour = favour

        def score_bias(self, q, k):  # one head: 1 at distance `favour`, 0 elsewhere
            return ((q[:, None] - k[None, :]) == self.favour).double()[None]

    class Model:
        def __init__(self, favour):
            self.pe = Pe(favour)

    n = 6
    assert fire_stretch.right_key_gap(Model(n), 0, n) == 0.0  # the copy's key t - n is the favourite
    assert fire_stretch.right_key_gap(Model(1), 0, n) == -1.0  # every copy query sees distance 1 favoured instead
    assert torch.isfinite(torch.tensor(fire_stretch.right_key_gap(Model(3 * n), 0, n)))  # favoured nowhere in reach


def test_the_previous_token_weight_is_read_per_query_range(fire_stretch):
    import torch
    T = 10
    w = torch.zeros(1, 2, T, T, dtype=torch.float64)
    w[0, 0, torch.arange(1, T), torch.arange(0, T - 1)] = torch.linspace(0.1, 0.9, T - 1, dtype=torch.float64)
    w[0, 1, :, 0] = 1.0  # head 1 always on the first key: on j - 1 only for j = 1
    prev = fire_stretch.on_previous([w], 1, 4)  # queries 1, 2, 3
    assert prev.shape == (1, 2) and float(prev[0, 0]) == pytest.approx(0.2) and float(prev[0, 1]) == pytest.approx(1 / 3)
    assert float(fire_stretch.on_previous([w], 4, T)[0, 0]) == pytest.approx(0.65)


def test_a_fire_models_heads_are_read_inside_and_past_the_training_length(fire_stretch, tiny_cfg, tmp_path):
    import torch

    from posenc import io
    from posenc.data import synthetic
    from posenc.engine.lm import lm_spec
    from posenc.nn.backbone import build_model
    io.save_npz(tmp_path / "copy.npz", synthetic.generate(tiny_cfg.synthetic, "copy", 0))
    splits = synthetic.load(tmp_path / "copy.npz", "copy", tiny_cfg.synthetic.vocab_size)
    T, L = tiny_cfg.synthetic.train_max_len, max(tiny_cfg.synthetic.eval_lengths)
    torch.manual_seed(0)
    fire = build_model(lm_spec(tiny_cfg, "fire")).eval()
    r = fire_stretch.stretch(fire, splits, T, L, tiny_cfg.synthetic.vocab_size, size=4)
    pos = torch.arange(L)
    b = fire.pe.score_bias(pos, pos)[r["previous_head"]["head"]].detach()
    assert r["previous_head"]["bias_margin"][str(L - 1)] == round(float(b[L - 1, L - 2] - b[L - 1, L - 3]), 4)
    assert list(r["previous_head"]["bias_margin"]) == list(dict.fromkeys(map(str, (T // 2, T - 1, L // 2 - 1, L - 1))))
    assert all(0 <= r["copy_head"][k] <= 1 for k in ("mass_trained", "mass_longest")) and r["lengths"] == [T, L]
    assert (r["c"], r["L"]) == (round(abs(fire.pe.c.item()), 4), round(abs(fire.pe.L.item()), 2))
    assert r["previous_head"]["w_longest_past"] is None  # at 32 tokens the source (15) ends before position 16
    assert list(r["copy_head"]["bias_gap"]) == ["16", "24", "32"] and all(v <= 0 for v in r["copy_head"]["bias_gap"].values())
    with pytest.raises(ConfigError, match="not FIRE"):
        fire_stretch.stretch(build_model(lm_spec(tiny_cfg, "rope")).eval(), splits, T, L, 100, size=4)


def test_slip_attention_says_where_the_copy_head_looks_at_slips_and_at_right_predictions(distance):
    import numpy as np
    import torch

    from posenc.data import synthetic
    V, n = 20, 6

    class Looks(torch.nn.Module):  # head 1 reads the right key t - n except for k = 3, where it reads one behind
        def forward(self, idx, need_weights=False):
            B, T = idx.shape
            w = torch.zeros(B, 2, T, T)
            w[:, 0] = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]
            t = torch.arange(n, 2 * n)
            read = t - n - (t == n + 3).long()
            w[:, 1, t, read] = 1.0
            said = torch.zeros(B, T, dtype=torch.long)
            said[:, t] = idx.gather(1, read[None].expand(B, -1))  # the token of the key it reads
            return torch.nn.functional.one_hot(said, V + 2).float(), [w]

    sources = synthetic.Sources(np.full(2, n), np.arange(2 * n, dtype=np.uint8))
    out = distance.slip_attention(Looks(), sources, "copy", V, size=2)
    assert (out["layer"], out["head"]) == (0, 1)
    assert out["slips"]["count"] == 2 and out["slips"]["w_behind"] == 1.0 and out["slips"]["top"]["behind"] == 1.0
    assert out["right"]["count"] == 2 * (n - 2) and out["right"]["w_right"] == 1.0 and out["right"]["w_behind"] == 0.0
    assert out["slips"]["top_distance_median"] == n + 1 and out["slips"]["top_in_copy_half"] == 0.0
    assert out["right"]["top_distance_median"] == n
    assert distance.slip_attention(Looks(), sources, "copy", V, size=2, head=(0, 0))["head"] == 0  # a head given is kept


def test_the_distance_table_shows_the_peaks_and_where_the_copy_head_looks(distance, tmp_path):
    from posenc import io
    top = [{"d": 1, "excess": 0.9, "hits": 0.95, "null": 0.05}]
    look = {"layer": 2, "head": 1, "slips": {"count": 10, "top": {"behind": 0.8, "right": 0.1, "ahead": 0.0}},
            "right": {"count": 0, "top": {"behind": None, "right": None, "ahead": None}}}
    length = {"token_acc": 0.5, "exact_match": 0.0, "slips": 10, "right_distance": 512, "top": top,
              "excess_near_right": 0.9, "excess_seen": 0.95, "excess_beyond": 0.0}
    io.write_json(tmp_path / "d.json", {"runs": {"a": {"lengths": {"1024": {**length, "attention": look}}},
                                                 "b": {"lengths": {"1024": length}}}})
    lines = distance.table(tmp_path / "d.json").splitlines()
    assert lines[2].endswith("| L2 H1: 80 / 10 / 0 (of 10); - / - / - (of 0) |") and "1 (0.900 / 0.950 / 0.050)" in lines[2]
    assert lines[3].endswith("|  |")  # a run from before the attention was kept


def test_the_content_gap_is_the_score_difference_less_the_pes_bias(distance):
    import torch
    n, T = 4, 9

    class Pe:
        def layer_biases(self, q, k, n_layers):  # layer 1's head 0: -0.5 per step back
            return [None, -0.5 * (q[:, None] - k[None, :]).abs().double()[None]]

    class Model:
        pe, blocks = Pe(), [0, 0]

    content = torch.randn(1, T, T, dtype=torch.float64)
    bias = Pe().layer_biases(torch.arange(T), torch.arange(T), 2)[1][0]
    causal = torch.ones(T, T).tril().bool()
    rows_all = (content[0] + bias).masked_fill(~causal, float("-inf")).softmax(-1)[None]  # (1, T, T)
    t = torch.arange(n + 1, 2 * n)
    gap = distance.content_gap(Model(), rows_all[:, t], t, n, (1, 0))
    want = content[0, t, t - n] - content[0, t, t]
    assert torch.allclose(gap[0], want, atol=1e-9)
    plain = distance.content_gap(Model(), rows_all[:, t], t, n, (0, 0))  # no bias in that layer: the score gap
    assert torch.allclose(plain[0], want + bias[t, t - n] - bias[t, t], atol=1e-9)


@pytest.fixture(scope="module")
def window():
    return bench_script("sep_reach")


def _alibi(pe="alibi"):
    import torch

    from posenc.nn.backbone import build_model
    torch.manual_seed(0)
    return build_model(tiny_spec(pe)).eval(), torch.randint(0, 10, (2, 24))


@pytest.mark.parametrize("pe", ["alibi", "rope"])
def test_windowed_heads_see_nothing_at_or_past_the_window_and_the_rest_is_untouched(window, pe):
    import torch
    model, idx = _alibi(pe)
    with torch.no_grad():
        before, (_, plain) = model(idx), model(idx, need_weights=True)
        with window.windowed(model, {1: [0, 2]}, 5):
            _, w = model(idx, need_weights=True)
        again = model(idx)
    far = (torch.arange(24)[:, None] - torch.arange(24)[None, :]) >= 5
    assert torch.equal(w[0], plain[0])  # layer 0 untouched, so layer 1 sees the same input
    assert (w[1][:, [0, 2]][..., far] == 0).all() and (w[1][:, [0, 2]][..., ~far] > 0).any()
    assert torch.allclose(w[1][:, [1, 3]], plain[1][:, [1, 3]])
    assert not torch.allclose(w[1][:, 0], plain[1][:, 0])
    assert torch.equal(again, before) and "layer_biases" not in vars(model.pe)  # restored


def test_a_window_past_every_distance_changes_nothing(window):
    import torch
    model, idx = _alibi()
    with torch.no_grad():
        plain = model(idx)
        with window.windowed(model, {0: [0, 1, 2, 3], 1: [1]}, 24):
            same = model(idx)
    assert torch.allclose(same, plain)


def test_the_variants_window_every_head_but_the_copy_head_between_them(window):
    cells = lambda hs: {(layer, h) for layer, heads in hs.items() for h in heads}  # noqa: E731
    below = cells(window.variant_heads("below", (1, 2), 3, 4))
    beside = cells(window.variant_heads("beside", (1, 2), 3, 4))
    others = cells(window.variant_heads("others", (1, 2), 3, 4))
    assert below == {(0, h) for h in range(4)} and beside == {(1, 0), (1, 1), (1, 3)}
    assert others == {(layer, h) for layer in range(3) for h in range(4)} - {(1, 2)}
    assert window.variant_heads("none", (1, 2), 3, 4) == {} and cells(window.variant_heads("sep", (1, 2), 3, 4)) == below
    with pytest.raises(ConfigError, match="--variants"):
        window.variant_heads("all", (1, 2), 3, 4)


def test_windowing_is_compared_sequence_by_sequence(window):
    import numpy as np
    base, other = np.array([1, 1, 0, 0, 0, 0.5]), np.array([1, 0, 1, 1, 1, 1])
    r = window.compare(base, other)
    assert (r["gained"], r["lost"]) == (4, 1) and r["p_mcnemar"] == pytest.approx(0.375)
    assert window.compare(base, base) == {"gained": 0, "lost": 0, "p_mcnemar": 1.0}


def test_a_wrong_variant_is_a_one_line_error_before_training(window, monkeypatch):
    monkeypatch.setattr(window, "trained", lambda *a, **k: pytest.fail("trained"))
    monkeypatch.setattr("sys.argv", ["sep_reach.py", "alibi", "--tag", "x", "--variants", "every"])
    with pytest.raises(ConfigError, match="--variants"):
        window.main()


def test_every_length_scores_each_variant_against_the_unwindowed_model(window, tiny_cfg, untrained_copy):
    from posenc.engine.runtime import resolve
    model, splits = untrained_copy
    W = tiny_cfg.synthetic.train_max_len
    run = window.score_variants(model, splits, tiny_cfg, resolve("float32"), ["none", "others", "sep"], W, W // 2, 4)
    assert set(run["lengths"]) == {str(L) for L in tiny_cfg.synthetic.eval_lengths}
    for L, r in run["lengths"].items():
        assert (r["none"]["gained"], r["none"]["lost"], r["none"]["p_mcnemar"]) == (0, 0, 1.0)
        n = (int(L) - 1) // 2
        assert len(r["sep_weight"]) == len(model.blocks) and all(len(heads) == 4 for heads in r["sep_weight"])
        assert abs(sum(r["none"]["error_by_index"][k] * _width(k) for k in r["none"]["error_by_index"]) / n
                   - (1 - r["none"]["token_acc"])) < 1e-3  # the bins cover every copy index once
        if int(L) <= W:  # no distance reaches the window: windowing changes nothing
            assert r["others"]["exact_match"] == r["none"]["exact_match"]
            assert r["others"]["token_acc"] == r["none"]["token_acc"]
    assert "layer_biases" not in vars(model.pe)


def _width(k: str) -> int:
    a, b = k.split("-")
    return int(b) - int(a) + 1


def test_copy_index_bins_cover_every_index_once_and_end_at_the_last(window):
    import numpy as np
    r = window.by_index(np.arange(10.0))
    assert list(r) == ["0-0", "1-1", "2-3", "4-7", "8-9"] and r["4-7"] == 5.5 and r["8-9"] == 8.5


def test_capping_sep_charges_far_queries_the_bias_of_the_reach_and_changes_nothing_else(window):
    import torch
    model, idx = _alibi()
    T, sep, reach = 24, 6, 5
    pos = torch.arange(T)
    plain = model.pe.layer_biases(pos, pos, 2)
    with window.sep_capped(model, [0], sep, reach):
        capped = model.pe.layer_biases(pos, pos, 2)
        with torch.no_grad():
            model(idx)  # the forward pass takes the capped biases
    assert torch.equal(capped[1], plain[1])  # layer 1 untouched
    far = pos - sep > reach
    assert torch.equal(capped[0][:, far, sep], plain[0][:, sep + reach, sep][:, None].expand(-1, int(far.sum())))
    assert (capped[0][:, far, sep] > plain[0][:, far, sep]).all()  # ALiBi: a smaller penalty than the distance's
    keep = torch.ones(T, T, dtype=torch.bool)
    keep[far, sep] = False
    assert torch.equal(capped[0][:, keep], plain[0][:, keep]) and "layer_biases" not in vars(model.pe)


def test_capping_sep_in_a_layer_without_a_bias_is_a_one_line_error(window):
    import torch
    model, _ = _alibi("rope")
    pos = torch.arange(24)
    with pytest.raises(ConfigError, match="sep"), window.sep_capped(model, [0], 6, 5):
        model.pe.layer_biases(pos, pos, 2)


def test_the_reach_table_orders_lengths_and_copy_indices_as_numbers(window, tmp_path):
    from posenc import io
    bins = {"0-0": 0.0, "128-159": 0.5, "16-31": 0.1, "64-127": 0.2, "1-1": 0.0}
    cell = {"exact_match": 0.5, "gained": 3, "lost": 1, "p_mcnemar": 0.625, "error_by_index": bins}
    length = {"none": cell, "sep": {**cell, "error_by_index": {**bins, "128-159": 0.0}},
              "sep_weight": [[bins, {**bins, "16-31": 0.9}], [bins, bins]]}
    io.write_json(tmp_path / "r.json", {"runs": {"x": {"copy_head": [1, 0], "lengths": {"1024": length, "512": length}}}})
    rows = window.table(tmp_path / "r.json").splitlines()[2:]
    assert [r.split("|")[2].strip() for r in rows] == ["512", "1024"]
    assert "128-159: 50.0 -> 0.0" in rows[0] and "L0 H1: 64-127: 0.20; 128-159: 0.50" in rows[0]
