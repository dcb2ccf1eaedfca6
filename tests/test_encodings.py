"""Properties of each positional encoding (DESIGN section 3), checked from their definitions."""

import math

import pytest
import torch

from posenc.encodings import ALiBi, LearnedPE, RoPE, SinusoidalPE, alibi_slopes, available, build_pe
from posenc.errors import ConfigError


def make(name, d_model=32, n_heads=4, max_positions=64, train_max_len=16):
    return build_pe(name, d_model, n_heads, max_positions, train_max_len, 10000.0)


def test_registry_lists_the_four_pes_and_rejects_unknown():
    assert {"sinusoidal", "learned", "rope", "alibi"} <= set(available())
    with pytest.raises(ConfigError, match="unknown PE 'xpos'"):
        make("xpos")


def test_sinusoidal_matches_vaswani_formula():
    pe = make("sinusoidal", d_model=8)
    out = pe(torch.zeros(1, 40, 8), 40)[0]  # (T, D)
    for p in (0, 1, 7, 39):
        for i in range(4):
            angle = p / 10000 ** (2 * i / 8)
            assert out[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert out[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_sinusoidal_is_defined_past_training_length_and_has_no_parameters():
    pe = make("sinusoidal", train_max_len=16)
    out = pe(torch.zeros(1, 64, 32), 64)[0]
    assert len(list(pe.parameters())) == 0
    assert not torch.allclose(out[20], out[15])  # not clamped: a function of the position


def test_learned_clamps_positions_past_training_length():
    pe = make("learned", train_max_len=16)
    assert pe.table.num_embeddings == 16  # never extended
    out = pe(torch.zeros(1, 40, 32), 40)[0]
    for p in range(16, 40):
        assert torch.equal(out[p], out[15])
    assert not torch.equal(out[14], out[15])


def test_tables_are_not_saved_in_checkpoints():
    assert set(make("sinusoidal").state_dict()) == set()
    assert set(make("rope").state_dict()) == set()
    assert set(make("alibi").state_dict()) == set()
    assert set(make("learned").state_dict()) == {"table.weight"}


HOOK_CALLS = {  # the hook through which each PE acts, called with 65 positions
    "sinusoidal": lambda pe: pe(torch.zeros(1, 65, 32), 65),
    "learned": lambda pe: pe(torch.zeros(1, 65, 32), 65),
    "rope": lambda pe: pe.rotate(torch.zeros(1, 4, 65, 8), torch.zeros(1, 4, 65, 8), torch.arange(65)),
    "alibi": lambda pe: pe.score_bias(65, 65),
}


@pytest.mark.parametrize("name", sorted(HOOK_CALLS))
def test_longer_than_tables_is_a_clear_error(name):
    with pytest.raises(ConfigError, match="model.max_positions: sequence of 65 tokens"):
        HOOK_CALLS[name](make(name, max_positions=64))


def test_rope_score_depends_only_on_distance():
    torch.manual_seed(0)
    rope = make("rope", d_model=32, n_heads=4)
    q_vec, k_vec = torch.randn(8), torch.randn(8)
    T = 50
    q = q_vec.expand(1, 4, T, 8).contiguous()  # same content at every position
    k = k_vec.expand(1, 4, T, 8).contiguous()
    qr, kr = rope.rotate(q, k, torch.arange(T))
    scores = (qr[0, 0] @ kr[0, 0].T).double()  # (T, T)
    for dist in (-7, 0, 3, 20):
        diag = torch.diagonal(scores, offset=dist)
        assert torch.allclose(diag, diag[0].expand_as(diag), atol=1e-4), dist
    assert not torch.allclose(torch.diagonal(scores, 0)[0], torch.diagonal(scores, 5)[0])


def test_rope_preserves_norm_and_is_identity_at_position_zero():
    torch.manual_seed(0)
    rope = make("rope")
    q, k = torch.randn(2, 4, 10, 8), torch.randn(2, 4, 10, 8)
    qr, kr = rope.rotate(q, k, torch.arange(10))
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
    pe = build_pe("alibi", 8 * n_heads, n_heads, 64, 16)
    bias = pe.score_bias(10, 10)
    assert bias.shape == (n_heads, 10, 10)
    slopes = alibi_slopes(n_heads)
    for h in range(n_heads):
        for i in range(10):
            for j in range(10):
                assert bias[h, i, j].item() == pytest.approx(-slopes[h].item() * abs(i - j), abs=1e-6)


def test_alibi_adds_nothing_to_embeddings_and_is_not_scaled():
    pe = make("alibi")
    x = torch.randn(2, 5, 32)
    assert torch.equal(pe(x, 5), x)
    assert pe.score_bias(3, 3)[0, 0, 2].item() == pytest.approx(-2 * alibi_slopes(4)[0].item())


def test_hooks_are_no_ops_where_a_pe_does_not_act():
    x, q, k = torch.randn(1, 5, 32), torch.randn(1, 4, 5, 8), torch.randn(1, 4, 5, 8)
    for cls in (SinusoidalPE, LearnedPE, ALiBi):
        pe = make({SinusoidalPE: "sinusoidal", LearnedPE: "learned", ALiBi: "alibi"}[cls])
        assert all(torch.equal(a, b) for a, b in zip(pe.rotate(q, k, torch.arange(5)), (q, k)))
    for name in ("sinusoidal", "learned", "rope"):
        assert make(name).score_bias(5, 5) is None
    assert torch.equal(make("rope")(x, 5), x)
    assert isinstance(make("rope"), RoPE)
