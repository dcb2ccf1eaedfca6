"""Properties every registered PE must have inside the shared Transformer, checked for each one automatically:
causality, padding invariance, fused == manual attention, checkpoint round trip, determinism and
shift invariance of the relative ones."""

import pytest
import torch

from conftest import tiny_spec
from posenc import io
from posenc.errors import ConfigError, DataError
from posenc.nn.backbone import build_model
from posenc.nn.checkpoint import load_model, save_model
from posenc.nn.pe import available
from posenc.nn.pe.base import PositionalEncoding

PES = available()  # every registered PE, `nope` included: a new module gets these tests with no edit here


def make(pe, head="lm", seed=0, **kw):
    torch.manual_seed(seed)
    return build_model(tiny_spec(pe, head, **kw)).eval()


@pytest.mark.parametrize("pe", PES)
def test_changing_a_future_token_leaves_earlier_logits_unchanged(pe):
    model = make(pe)
    idx = torch.randint(0, 12, (2, 24))
    changed = idx.clone()
    changed[:, 10] = (changed[:, 10] + 1) % 12
    for fused in (True, False):
        model.set_fused(fused)
        a, b = model(idx), model(changed)
        assert torch.allclose(a[:, :10], b[:, :10], atol=1e-6)
        assert not torch.allclose(a[:, 10:], b[:, 10:], atol=1e-4)


@pytest.mark.parametrize("pe", PES)
@pytest.mark.parametrize("fused", [True, False])
def test_right_padding_never_changes_real_positions_of_the_lm(pe, fused):
    model = make(pe)
    model.set_fused(fused)
    idx = torch.randint(0, 10, (1, 12))
    padded = torch.cat([idx, torch.full((1, 5), 11)], dim=1)
    mask = torch.cat([torch.ones(1, 12), torch.zeros(1, 5)], dim=1).long()
    ref = model(idx)
    if not model.pe.randomized:  # a randomized PE draws from the length it is given: only the mask tells it
        assert torch.allclose(model(padded)[:, :12], ref, atol=1e-5)
    assert torch.allclose(model(padded, attention_mask=mask)[:, :12], ref, atol=1e-5)


@pytest.mark.parametrize("pe", PES)
@pytest.mark.parametrize("fused", [True, False])
def test_classifier_logits_do_not_depend_on_padding(pe, fused):
    """Bidirectional: pads are hidden only by attention_mask, and pooling skips them."""
    model = make(pe, head="classifier")
    model.set_fused(fused)
    ids = torch.randint(1, 12, (1, 9))
    padded = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], dim=1)
    mask = torch.cat([torch.ones(1, 9), torch.zeros(1, 4)], dim=1).long()
    assert torch.allclose(model(padded, mask), model(ids, torch.ones(1, 9, dtype=torch.long)), atol=1e-5)


@pytest.mark.parametrize("pe", PES)
def test_the_classifier_attends_both_ways(pe):
    model = make(pe, head="classifier")
    ids = torch.randint(1, 12, (1, 14))
    changed = ids.clone()
    changed[0, -1] = ids[0, -1] % 11 + 1
    mask = torch.ones_like(ids)
    assert not torch.allclose(model(changed, mask), model(ids, mask), atol=1e-6)


@pytest.mark.parametrize("pe", PES)
@pytest.mark.parametrize("head", ["lm", "classifier"])
@pytest.mark.parametrize("with_pad", [True, False])
def test_fused_attention_equals_manual(pe, head, with_pad):
    model = make(pe, head=head, seed=1)
    idx = torch.randint(1, 12, (3, 20))
    mask = torch.ones(3, 20, dtype=torch.long)
    if with_pad:
        mask[1, 14:] = 0
        mask[2, 5:] = 0
    m = mask if (with_pad or head == "classifier") else None
    model.set_fused(True)
    fused = model(idx, m)
    model.set_fused(False)
    manual, weights = model(idx, m, need_weights=True)
    assert torch.allclose(fused, manual, atol=1e-5)
    for w in weights:  # (B, H, T, T) per layer
        assert torch.allclose(w.sum(-1)[0], torch.ones(4, 20), atol=1e-5)
        if head == "lm":
            assert torch.all(w.triu(1) == 0)
        if with_pad:
            assert torch.all(w[2, :, :, 5:] == 0)


@pytest.mark.parametrize("pe", PES)
@pytest.mark.parametrize("head", ["lm", "classifier"])
def test_checkpoint_round_trip_gives_the_same_model_and_the_same_bytes(pe, head, tmp_path):
    model = make(pe, head=head)
    save_model(tmp_path / "a.pt", model, task="copy")
    save_model(tmp_path / "b.pt", make(pe, head=head), task="copy")  # rebuilt from the same seed
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    assert (tmp_path / "a.pt").stat().st_mode & 0o777 == 0o666 & ~io._umask()
    loaded, meta = load_model(tmp_path / "a.pt")
    assert meta == {"task": "copy", "pe": pe} and loaded.spec == model.spec
    idx = torch.randint(1, 12, (2, 10))
    mask = torch.ones(2, 10, dtype=torch.long)
    assert torch.equal(loaded.eval()(idx, mask), model(idx, mask))


def test_a_checkpoint_that_does_not_fit_its_spec_is_a_data_error(tmp_path):
    model = make("learned")
    state = {k: v for k, v in model.state_dict().items() if "pe." not in k}
    save_model(tmp_path / "m.pt", model, state)
    with pytest.raises(DataError, match="m.pt: checkpoint does not match its spec"):
        load_model(tmp_path / "m.pt")
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(DataError, match="bad.pt: corrupt checkpoint"):
        load_model(tmp_path / "bad.pt")


@pytest.mark.parametrize("pe", PES)
def test_same_seed_same_model_same_output(pe):
    a, b = make(pe, seed=3), make(pe, seed=3)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    idx = torch.randint(0, 12, (2, 30))
    assert torch.equal(a(idx), b(idx))


@pytest.mark.parametrize("pe", PES)
def test_every_layer_sees_one_positions_tensor_and_one_bias(pe, monkeypatch):
    """Positions are computed once per forward and handed to every hook; the PE bias is built once."""
    model = make(pe)
    seen, biases = [], []
    rotate, score_bias = model.pe.rotate, model.pe.score_bias
    monkeypatch.setattr(model.pe, "rotate", lambda q, k, p: (seen.append(p), rotate(q, k, p))[1])
    monkeypatch.setattr(model.pe, "score_bias", lambda qp, kp: (biases.append(qp), score_bias(qp, kp))[1])
    model(torch.randint(0, 12, (2, 7)))
    assert len(seen) == len(model.blocks) and all(p is seen[0] for p in seen)
    assert torch.equal(seen[0], model.positions(7, "cpu")) and len(biases) == 1
    assert torch.equal(seen[0], torch.arange(7)) != model.pe.randomized


@pytest.mark.parametrize("pe", PES)
def test_one_mask_per_distinct_layer_bias(pe, monkeypatch):
    """The mask (bias + causal + padding) is built once per distinct bias: once for a PE whose layers share
    one (the base class's layer_biases), once per differing layer otherwise (hard_alibi_ngram)."""
    import posenc.nn.backbone as backbone

    model = make(pe)
    built, real = [], backbone.additive_mask
    monkeypatch.setattr(backbone, "additive_mask", lambda *a: (built.append(a[0]), real(*a))[1])
    biases = model.pe.layer_biases(torch.arange(7), torch.arange(7), len(model.blocks))
    model(torch.randint(0, 12, (2, 7)), attention_mask=torch.ones(2, 7, dtype=torch.long))
    assert len(biases) == len(model.blocks) and len(built) == len({id(b) for b in biases})
    shared = type(model.pe).layer_biases is PositionalEncoding.layer_biases
    assert shared == all(b is biases[0] for b in biases)


def test_hard_alibi_ngram_windows_every_head_of_layer_0_only():
    model = make("hard_alibi_ngram", pe_params={"first_windows": [2, 3, 4, 5], "windows": [2],
                                                "distractor_share": 0.0, "distractor_alphabets": []})
    _, (w0, w1) = model(torch.randint(0, 12, (1, 12)), need_weights=True)  # (B, H, T, T) per layer
    i, j = torch.meshgrid(torch.arange(12), torch.arange(12), indexing="ij")
    for h, w in enumerate((2, 3, 4, 5)):
        assert (w0[0, h][(i - j >= w) | (j > i)] == 0).all() and (w0[0, h][(i - j >= 0) & (i - j < w)] > 0).all()
    assert (w1[0, 0][i - j >= 2] == 0).all() and (w1[0, 1:][:, (i - j >= 0)] > 0).all()  # heads 1-3: global


def test_longer_than_the_tables_is_a_clear_error():
    with pytest.raises(ConfigError, match="model.max_positions: positions up to 64 exceed the table size 64"):
        make("sinusoidal")(torch.zeros(1, 65, dtype=torch.long))
    with pytest.raises(ConfigError, match="positions up to 64 exceed"):
        make("rope")(torch.zeros(1, 33, dtype=torch.long), offset=32)


@pytest.mark.parametrize("pe", PES)
def test_shifting_every_position_changes_only_absolute_encodings(pe):
    """The distance probe's shift: a relative PE (or none) depends on i - j only, so the same tokens at
    positions k..k+T-1 give the same logits; an absolute PE sees new positions. Declared by Theory.kind."""
    from posenc.nn.pe import pe_class

    model = make(pe)
    idx = torch.randint(0, 12, (2, 20))
    same = torch.allclose(model(idx), model(idx, offset=7), atol=1e-5)
    cls = pe_class(pe)  # a randomized PE draws from [offset, R): a new subset, so new distances too
    assert same == (cls.theory.kind in ("relative", "none") and not cls.randomized), cls.theory.kind


def test_need_weights_returns_one_map_per_layer():
    logits, weights = make("alibi")(torch.randint(0, 12, (2, 10)), need_weights=True)
    assert logits.shape == (2, 10, 12)
    assert len(weights) == 2 and weights[0].shape == (2, 4, 10, 10)


@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm"])
def test_both_norms_build_and_differ(norm):
    idx = torch.randint(0, 12, (1, 8))
    other = "rmsnorm" if norm == "layernorm" else "layernorm"
    assert not torch.allclose(make("rope", norm=norm)(idx), make("rope", norm=other)(idx))
