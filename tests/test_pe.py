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
