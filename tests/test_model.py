"""Properties of the shared block: causality, padding invariance, fused == manual attention."""

import pytest
import torch

from posenc.config import ModelConfig
from posenc.encodings import build_pe
from posenc.model import CausalLM, SelfAttention

PES = ["sinusoidal", "learned", "rope", "alibi"]


def model_cfg(**kw):
    base = dict(n_layers=2, d_model=32, n_heads=4, ffn_mult=4, norm="layernorm", dropout=0.0,
                rope_base=10000.0, max_positions=64)
    base.update(kw)
    return ModelConfig(**base)


def make_lm(pe, **kw):
    torch.manual_seed(0)
    return CausalLM(model_cfg(**kw), pe, vocab_size=12, train_max_len=16).eval()


@pytest.mark.parametrize("pe", PES)
def test_changing_a_future_token_leaves_earlier_logits_unchanged(pe):
    model = make_lm(pe)
    idx = torch.randint(0, 12, (2, 24))
    changed = idx.clone()
    changed[:, 10] = (changed[:, 10] + 1) % 12
    a, b = model(idx), model(changed)
    assert torch.allclose(a[:, :10], b[:, :10], atol=1e-6)
    assert not torch.allclose(a[:, 10:], b[:, 10:], atol=1e-4)


@pytest.mark.parametrize("pe", PES)
@pytest.mark.parametrize("fused", [True, False])
def test_right_padding_never_changes_real_positions(pe, fused):
    model = make_lm(pe)
    model.set_fused(fused)
    idx = torch.randint(0, 10, (1, 12))
    padded = torch.cat([idx, torch.full((1, 5), 11)], dim=1)
    mask = torch.cat([torch.ones(1, 12), torch.zeros(1, 5)], dim=1).long()
    ref = model(idx)
    assert torch.allclose(model(padded)[:, :12], ref, atol=1e-5)
    assert torch.allclose(model(padded, attention_mask=mask)[:, :12], ref, atol=1e-5)


@pytest.mark.parametrize("pe", PES)
def test_bidirectional_attention_ignores_padded_keys(pe):
    """Without a causal mask, pads are only hidden by attention_mask; real outputs must not move."""
    torch.manual_seed(0)
    cfg = model_cfg()
    pe_mod = build_pe(pe, cfg.d_model, cfg.n_heads, cfg.max_positions, 16)
    attn = SelfAttention(cfg).eval()
    x = torch.randn(1, 9, 32)
    padded = torch.cat([x, torch.randn(1, 4, 32)], dim=1)
    mask = torch.cat([torch.ones(1, 9), torch.zeros(1, 4)], dim=1).long()
    for fused in (True, False):
        attn.fused = fused
        ref, _ = attn(x, pe_mod, causal=False)
        out, _ = attn(padded, pe_mod, attention_mask=mask, causal=False)
        assert torch.allclose(out[:, :9], ref, atol=1e-5)


@pytest.mark.parametrize("pe", PES)
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("with_pad", [True, False])
def test_fused_attention_equals_manual(pe, causal, with_pad):
    torch.manual_seed(1)
    cfg = model_cfg()
    pe_mod = build_pe(pe, cfg.d_model, cfg.n_heads, cfg.max_positions, 16)
    attn = SelfAttention(cfg).eval()
    x = torch.randn(3, 20, 32)
    mask = torch.ones(3, 20, dtype=torch.long)
    if with_pad:
        mask[1, 14:] = 0
        mask[2, 5:] = 0
    attn.fused = True
    fused, _ = attn(x, pe_mod, attention_mask=mask if with_pad else None, causal=causal)
    attn.fused = False
    manual, weights = attn(x, pe_mod, attention_mask=mask if with_pad else None, causal=causal, need_weights=True)
    assert torch.allclose(fused, manual, atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 4, 20), atol=1e-5)
    if causal:
        assert torch.all(weights.triu(1) == 0)
    if with_pad:
        assert torch.all(weights[2, :, :, 5:] == 0)


def test_need_weights_returns_one_map_per_layer():
    model = make_lm("alibi")
    logits, weights = model(torch.randint(0, 12, (2, 10)), need_weights=True)
    assert logits.shape == (2, 10, 12)
    assert len(weights) == 2 and weights[0].shape == (2, 4, 10, 10)


@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm"])
def test_both_norms_build_and_run(norm):
    model = make_lm("rope", norm=norm)
    assert model(torch.randint(0, 12, (1, 8))).shape == (1, 8, 12)
