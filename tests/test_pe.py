"""Each positional encoding against its definition, and the registry that builds them."""

import math

import pytest
import torch

from conftest import default_sections
from posenc.errors import ConfigError
from posenc.nn.pe import available, build_pe, module_path, pe_class
from posenc.nn.pe.alibi import alibi_slopes
from posenc.nn.pe.base import Dims

DEFAULT_SECTIONS = default_sections()  # params.yaml's pe section: every PE's shipped hyperparameters


def make(name, d_model=32, n_heads=4, max_positions=64, train_max_len=16, **params):
    return build_pe(name, {**DEFAULT_SECTIONS.get(name, {}), **params},
                    Dims(d_model, n_heads, max_positions, train_max_len))


def pos(T):
    return torch.arange(T)


def test_registry_finds_every_module_and_rejects_unknown_names():
    assert {"nope", "sinusoidal", "learned", "rope", "alibi"} <= set(available())
    for name in available():
        assert module_path(name).is_file()
        assert pe_class(name).theory.mechanism  # every PE brings its prose for the report
    with pytest.raises(ConfigError, match="unknown PE 'xpos'"):
        make("xpos")


def test_a_pe_checks_its_own_params_section():
    with pytest.raises(ConfigError, match=r"^pe\.rope\.bse: unknown key$"):
        make("rope", bse=3.0)
    with pytest.raises(ConfigError, match=r"^pe\.rope\.base: must be > 1, got 0.5$"):
        make("rope", base=0.5)
    with pytest.raises(ConfigError, match=r"^pe\.rope\.base: missing key$"):
        build_pe("rope", {}, Dims(32, 4, 64, 16))
    with pytest.raises(ConfigError, match=r"^pe\.alibi\.slope: unknown key$"):
        make("alibi", slope=1.0)
    with pytest.raises(ConfigError, match="head size d_model/n_heads = 5 must be even for rope"):
        make("rope", d_model=20, n_heads=4)
    make("alibi", d_model=20, n_heads=4)  # an odd head size is only RoPE's problem


def test_rope_base_is_its_own_param():
    a, b = make("rope", base=10000.0), make("rope", base=500.0)
    q = torch.randn(1, 4, 10, 8)
    assert not torch.allclose(a.rotate(q, q, pos(10))[0], b.rotate(q, q, pos(10))[0])


def test_sinusoidal_matches_vaswani_formula():
    pe = make("sinusoidal", d_model=8)
    out = pe.embed(torch.zeros(1, 40, 8), pos(40))[0]  # (T, D)
    for p in (0, 1, 7, 39):
        for i in range(4):
            angle = p / 10000 ** (2 * i / 8)
            assert out[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert out[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_sinusoidal_is_defined_past_training_length_and_has_no_parameters():
    pe = make("sinusoidal", train_max_len=16)
    out = pe.embed(torch.zeros(1, 64, 32), pos(64))[0]
    assert len(list(pe.parameters())) == 0
    assert not torch.allclose(out[20], out[15])  # not clamped: a function of the position


def test_embedding_follows_the_positions_given_not_the_length():
    pe = make("sinusoidal")
    shifted = pe.embed(torch.zeros(1, 5, 32), pos(5) + 7)[0]
    assert torch.equal(shifted, pe.embed(torch.zeros(1, 12, 32), pos(12))[0, 7:])


def test_learned_clamps_positions_past_training_length_to_one_row():
    pe = make("learned", train_max_len=16)
    assert pe.table.num_embeddings == 16  # never extended
    out = pe.embed(torch.zeros(1, 40, 32), pos(40))[0]
    for p in range(16, 40):
        assert torch.equal(out[p], out[15])  # untrained table: the last row
    assert not torch.equal(out[14], out[15])


def row_used(pe, position: int) -> int:
    out = pe.embed(torch.zeros(1, position + 1, pe.table.embedding_dim), pos(position + 1))[0, position]
    return next(r for r in range(pe.table.num_embeddings) if torch.equal(out, pe.table.weight[r]))


def test_learned_row_used_past_training_length_was_trained_in_most_steps(tiny_params_dict):
    """Issue 15: a causal copy LM never puts its last training position in the loss and rarely reaches
    the late rows, so clamping to the last row handed the model an (almost) untrained vector."""
    from posenc import config
    from posenc.data import synthetic
    from posenc.engine.lm import train_lm
    from posenc.engine.runtime import resolve

    tiny_params_dict["train"].update(max_steps=30, curriculum_steps=0)
    cfg = config.from_dict(tiny_params_dict)
    arrays = synthetic.generate(cfg.synthetic, "copy", 0)
    splits = {k[:-8]: synthetic.Sources(arrays[k], arrays[k[:-8] + "_tokens"]) for k in arrays if k.endswith("_lengths")}
    pe = train_lm(cfg, "learned", "copy", splits, 0, progress=False, rt=resolve("float32"))["model"].pe.eval()
    steps, last = int(pe.updates), pe.table.num_embeddings - 1
    assert steps == 30
    row = row_used(pe, cfg.model.max_positions - 1)
    assert 2 * int(pe.row_steps[row]) >= steps, (row, pe.row_steps.tolist())
    assert 2 * int(pe.row_steps[last]) < steps  # the old clamp row: trained in few steps (here: never)
    assert row_used(pe, last - 1) == last - 1  # positions inside the training length keep their own rows


def test_tables_are_not_saved_in_checkpoints():
    assert set(make("sinusoidal").state_dict()) == set()
    assert set(make("rope").state_dict()) == set()
    assert set(make("alibi").state_dict()) == set()
    assert set(make("learned").state_dict()) == {"table.weight", "row_steps", "updates"}  # + gradient counts


def test_rope_score_depends_only_on_distance():
    torch.manual_seed(0)
    rope = make("rope", d_model=32, n_heads=4)
    q_vec, k_vec = torch.randn(8), torch.randn(8)
    T = 50
    q = q_vec.expand(1, 4, T, 8).contiguous()  # same content at every position
    k = k_vec.expand(1, 4, T, 8).contiguous()
    qr, kr = rope.rotate(q, k, pos(T))
    scores = (qr[0, 0] @ kr[0, 0].T).double()  # (T, T)
    for dist in (-7, 0, 3, 20):
        diag = torch.diagonal(scores, offset=dist)
        assert torch.allclose(diag, diag[0].expand_as(diag), atol=1e-4), dist
    assert not torch.allclose(torch.diagonal(scores, 0)[0], torch.diagonal(scores, 5)[0])


def test_rope_preserves_norm_and_is_identity_at_position_zero():
    torch.manual_seed(0)
    rope = make("rope")
    q, k = torch.randn(2, 4, 10, 8), torch.randn(2, 4, 10, 8)
    qr, kr = rope.rotate(q, k, pos(10))
    assert torch.allclose(qr.norm(dim=-1), q.norm(dim=-1), atol=1e-5)
    assert torch.allclose(qr[:, :, 0], q[:, :, 0])


def _paper_slopes(n):
    """Press et al.: geometric sequence starting at 2^(-8/n) for n a power of two."""
    return [2 ** (-8 * h / n) for h in range(1, n + 1)]


@pytest.mark.parametrize("n_heads,expected", [
    (4, _paper_slopes(4)),
    (8, [1 / 2 ** h for h in range(1, 9)]),  # the paper's example: 1/2 ... 1/256
    (6, _paper_slopes(4) + _paper_slopes(8)[0::2][:2]),
    (12, _paper_slopes(8) + _paper_slopes(16)[0::2][:4]),
])
def test_alibi_slopes_follow_press_et_al(n_heads, expected):
    assert alibi_slopes(n_heads).tolist() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("n_heads", [4, 6, 8, 12])
def test_alibi_bias_is_minus_slope_times_distance(n_heads):
    pe = make("alibi", d_model=8 * n_heads, n_heads=n_heads)
    bias = pe.score_bias(pos(10), pos(10))
    assert bias.shape == (n_heads, 10, 10)
    slopes = alibi_slopes(n_heads)
    for h in range(n_heads):
        for i in range(10):
            for j in range(10):
                assert bias[h, i, j].item() == pytest.approx(-slopes[h].item() * abs(i - j), abs=1e-6)


def test_alibi_bias_depends_on_the_positions_given():
    pe = make("alibi")
    assert torch.equal(pe.score_bias(pos(3) + 5, pos(8)), pe.score_bias(pos(8), pos(8))[:, 5:])


def test_alibi_adds_nothing_to_embeddings_and_its_bias_is_not_scaled():
    pe = make("alibi")
    x = torch.randn(2, 5, 32)
    assert torch.equal(pe.embed(x, pos(5)), x)
    assert pe.score_bias(pos(3), pos(3))[0, 0, 2].item() == pytest.approx(-2 * alibi_slopes(4)[0].item())


@pytest.mark.parametrize("name", available())
def test_hooks_a_pe_does_not_override_are_identities(name):
    """Each PE acts only through the hooks it overrides; the others must leave their inputs alone."""
    pe, base = make(name), pe_class("nope")
    x, q, k = torch.randn(1, 5, 32), torch.randn(1, 4, 5, 8), torch.randn(1, 4, 5, 8)
    cls = type(pe)
    if cls.embed is base.embed:
        assert torch.equal(pe.embed(x, pos(5)), x)
    if cls.rotate is base.rotate:
        assert all(torch.equal(a, b) for a, b in zip(pe.rotate(q, k, pos(5)), (q, k)))
    if cls.score_bias is base.score_bias:
        assert pe.score_bias(pos(5), pos(5)) is None


@pytest.mark.parametrize("name", available())
def test_theory_placeholders_are_all_filled(name):
    cls = pe_class(name)
    dims = Dims(32, 4, 64, 16)
    own = cls.theory_fill(cls.parse_params(DEFAULT_SECTIONS.get(name, {}), f"pe.{name}", dims), dims)
    text = cls.theory.mechanism.format(train=16, last=15, longest_last=63, **own)
    assert "{" not in text and "}" not in text


def test_t5_buckets_exact_then_log_spaced_then_shared():
    """Raffel et al. 2020: half the buckets exact, half log-spaced up to max_distance, the rest in the last."""
    from posenc.nn.pe.t5 import relative_bucket

    n = torch.arange(0, 600)
    causal = relative_bucket(-n, True, 32, 256)  # keys before the query: rel = k - q = -n
    assert causal[:16].tolist() == list(range(16))  # exact
    assert causal[16] == 16 and causal[200] < 31 and (causal[256:] == 31).all()  # log part, then shared
    assert (causal[1:] >= causal[:-1]).all()  # monotone in the distance
    assert (relative_bucket(n, True, 32, 256) == 0).all()  # later keys (masked anyway) share bucket 0
    both = relative_bucket(torch.arange(-300, 301), False, 32, 256)
    assert both[300] == 0 and both[301] == 17 and both[299] == 1  # bidirectional: later keys in the upper half
    assert both.max() == 31 and both.min() == 0


def test_t5_bias_depends_only_on_the_distance_and_starts_at_zero():
    pe = make("t5", max_positions=64)
    assert (pe.score_bias(pos(8), pos(8)) == 0).all()  # zero init: no position information yet
    with torch.no_grad():
        pe.bias.weight.normal_()
    b = pe.score_bias(pos(40), pos(40))
    for d in (0, 3, 20):
        diag = torch.diagonal(b, offset=-d, dim1=1, dim2=2)  # (H, 40 - d) entries with i - j = d
        assert torch.allclose(diag, diag[:, :1].expand_as(diag))


def test_hard_alibi_windows_mask_only_their_heads():
    pe = make("hard_alibi", windows=[2, 5])
    b = pe.score_bias(pos(12), pos(12))  # (H, T, T)
    i, j = torch.meshgrid(torch.arange(12), torch.arange(12), indexing="ij")
    for h, w in ((0, 2), (1, 5)):
        inside = (i - j >= 0) & (i - j < w)
        assert (b[h][inside] == 0).all() and torch.isinf(b[h][(i - j >= w)]).all()
    assert (b[2:] == 0).all()  # heads without a window: no bias
    with pytest.raises(ConfigError, match="pe.hard_alibi.windows: must list 1 to model.n_heads"):
        make("hard_alibi", windows=[1, 1, 1, 1, 1])


def test_hard_alibi_ngram_gives_layer_0_its_own_windows_and_the_later_layers_hard_alibis():
    pe = make("hard_alibi_ngram", first_windows=[2, 3, 4, 5], windows=[2, 5])
    first, *later = pe.layer_biases(pos(12), pos(12), 3)  # (H, T, T) each
    i, j = torch.meshgrid(torch.arange(12), torch.arange(12), indexing="ij")
    for h, w in enumerate((2, 3, 4, 5)):
        assert (first[h][(i - j >= 0) & (i - j < w)] == 0).all() and torch.isinf(first[h][i - j >= w]).all()
    assert len(later) == 2 and later[0] is later[1]  # one bias for every later layer
    assert torch.equal(later[0], make("hard_alibi", windows=[2, 5]).score_bias(pos(12), pos(12)))
    sym = build_pe("hard_alibi_ngram", DEFAULT_SECTIONS["hard_alibi_ngram"], Dims(32, 4, 64, 16, causal=False))
    b0 = sym.layer_biases(pos(9), pos(9), 2)[0]
    assert torch.equal(b0, b0.transpose(1, 2))  # the classifier's symmetric window


def test_only_a_pe_that_declares_a_curriculum_has_one():
    assert pe_class("hard_alibi_ngram").distractors(make("hard_alibi_ngram", distractor_share=0.25,
                                                         distractor_alphabets=[5, 10]).params) == (0.25, (5, 10))
    for name in set(available()) - {"hard_alibi_ngram"}:
        assert pe_class(name).distractors(make(name).params) == (0.0, ())


@pytest.mark.parametrize("bad,match", [
    ({"first_windows": [1, 1, 1, 1, 1]}, r"pe\.hard_alibi_ngram\.first_windows: must list 1 to model.n_heads"),
    ({"first_windows": [0]}, r"pe\.hard_alibi_ngram\.first_windows: every window must be >= 1"),
    ({"distractor_share": 1.5}, r"pe\.hard_alibi_ngram\.distractor_share: must be in \[0, 1\]"),
    ({"distractor_alphabets": []}, r"pe\.hard_alibi_ngram\.distractor_alphabets: needs at least one"),
    ({"distractor_alphabets": [1]}, r"pe\.hard_alibi_ngram\.distractor_alphabets: every size must be >= 2"),
])
def test_hard_alibi_ngram_checks_its_params(bad, match):
    with pytest.raises(ConfigError, match=match):
        make("hard_alibi_ngram", **bad)


def test_fire_normalises_by_the_query_position_past_L():
    """Li et al. 2024: f(psi(i - j) / psi(max(L, i))). Below L the bias depends on i - j only; past L the
    same distance gives a smaller input of f the farther the query is. c and L are learned parameters."""
    pe = make("fire", max_positions=128, init_L=16.0)
    assert {n for n, _ in pe.named_parameters()} >= {"c", "L"}
    with torch.no_grad():
        b = pe.score_bias(pos(64), pos(64))  # (H, T, T)
        within = [b[:, i, i - 3] for i in (5, 9, 15)]  # i < L: distance 3 -> one value
        assert all(torch.allclose(w, within[0]) for w in within)
        far = [b[:, i, i - 3] for i in (20, 40, 63)]  # i > L: normalised by psi(i)
        assert not torch.allclose(far[0], far[2])
        x = pe.psi(torch.tensor(3.0)) / pe.psi(torch.tensor(40.0))
        assert torch.allclose(b[:, 40, 37], pe.mlp(x.view(1, 1))[0])


@pytest.mark.parametrize("variant", ["pi", "ntk", "yarn"])
def test_rope_scaling_at_scale_one_is_the_trained_rope(variant):
    pe = make("rope")
    q, k = torch.randn(1, 4, 12, 8), torch.randn(1, 4, 12, 8)
    ref = pe.rotate(q, k, pos(12))
    pe.set_variant(variant, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(pe.rotate(q, k, pos(12)), ref))


def test_rope_pi_gives_position_l_times_s_the_angle_of_l_and_ntk_keeps_the_highest_frequency():
    pe = make("rope", max_positions=64, train_max_len=16)
    cos0, sin0 = pe.cos.clone(), pe.sin.clone()
    pe.set_variant("pi", 4.0)
    assert torch.allclose(pe.cos[40], cos0[10], atol=1e-6) and torch.allclose(pe.sin[40], sin0[10], atol=1e-6)
    pe.set_variant("ntk", 4.0)
    assert torch.allclose(pe.cos[:, 0], cos0[:, 0]) and not torch.allclose(pe.cos[:, -1], cos0[:, -1])
    long = make("rope", max_positions=1024, train_max_len=256)
    c0 = long.cos.clone()
    long.set_variant("yarn", 4.0)
    assert torch.allclose(long.cos[:, 0], c0[:, 0])  # wavelength 2 pi, 40x below the training length: kept
    assert torch.allclose(long.cos[400, -1], c0[100, -1], atol=1e-6)  # wavelength far above it: interpolated
    assert long.temperature == pytest.approx(0.1 * math.log(4.0) + 1)
    pe.set_variant(None, 4.0)
    assert torch.equal(pe.cos, cos0) and pe.temperature == 1.0
    with pytest.raises(ConfigError, match="no evaluation variant 'xyz'"):
        pe.set_variant("xyz", 2.0)
