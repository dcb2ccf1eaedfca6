"""Profiler: every PE and the no-PE baseline at every length (past max_positions too), the
FLOP count from its formula, extra parameters; timings are only checked to be measurements."""

import math

import pytest

from conftest import tiny_params
from posenc import config
from posenc.analysis.profiling import BASELINE, flops_per_token, matmul_params, profile
from posenc.engine.lm import lm_spec
from posenc.nn.backbone import build_model


@pytest.fixture(scope="module")
def measured():
    data = tiny_params()
    data["pes"] = ["learned", "alibi"]
    data["profile"].update(lengths=[48])  # > model.max_positions (32): tables grow for the profile
    cfg = config.from_dict(data)
    return cfg, profile(cfg, rounds=2)


def test_every_pe_and_the_baseline_at_every_length(measured):
    cfg, out = measured
    assert set(out["models"]) == {BASELINE, "learned", "alibi"}
    for pe, m in out["models"].items():
        assert set(m["lengths"]) == {"48"}
        for r in m["lengths"].values():
            for key in ("forward_tokens_per_s", "train_tokens_per_s", "peak_mem_mib", "train_flops_per_s", "mfu"):
                assert r[key] > 0 and math.isfinite(r[key])
            if pe == BASELINE:
                assert r["forward_overhead"] == 1.0 and r["train_overhead"] == 1.0
            # both precisions in the same run, and their ratio
            assert r["bf16_train_tokens_per_s"] > 0 and math.isfinite(r["bf16_forward_tokens_per_s"])
            ratios = [b / f for b, f in zip(r["bf16_train_tokens_per_s_rounds"], r["train_tokens_per_s_rounds"])]
            assert r["bf16_speedup"] == pytest.approx(sum(ratios) / 2)  # the median of the rounds' own ratios
            # two interleaved rounds: each kept, the overhead the median of the rounds' ratios within their range
            assert len(r["train_tokens_per_s_rounds"]) == len(r["bf16_train_tokens_per_s_rounds"]) == 2
            assert r["train_tokens_per_s"] == pytest.approx(sum(r["train_tokens_per_s_rounds"]) / 2)
            lo, hi = r["train_overhead_range"]
            assert lo <= r["train_overhead"] <= hi and (pe != BASELINE or lo == hi == 1.0)
    assert out["rounds"] == 2 and out["bf16_lengths"] == [48]  # bf16 at every length unless told otherwise
    assert out["matmul"]["flops_per_s"] > 0 and out["device"] in ("cpu", "cuda")
    assert out["auto_dtype"] in ("float32", "bfloat16") and isinstance(out["native_bf16"], list)


def test_extra_parameters_are_the_pe_tables(measured):
    cfg, out = measured
    assert out["models"]["learned"]["extra_params"] == cfg.synthetic.train_max_len * cfg.model.d_model
    assert out["models"]["alibi"]["extra_params"] == 0


def test_flops_per_token_follow_the_formula(tiny_cfg):
    model = build_model(lm_spec(tiny_cfg, "rope"))
    m = tiny_cfg.model
    per_layer = 3 * m.d_model**2 + m.d_model**2 + 2 * m.ffn_mult * m.d_model**2  # qkv, proj, FFN in and out
    assert matmul_params(model) == m.n_layers * per_layer + m.d_model * model.head.out_features
    f = flops_per_token(model, 20)
    assert f["forward"] == 2 * matmul_params(model) + 4 * m.n_layers * 20 * m.d_model
    assert f["train"] == 3 * f["forward"]


def test_bf16_only_where_asked(tiny_cfg):
    data = tiny_params()
    data["pes"] = ["alibi"]
    data["profile"].update(lengths=[24, 32])
    out = profile(config.from_dict(data), bf16_lengths=[24])
    assert out["bf16_lengths"] == [24]
    for m in out["models"].values():
        assert m["lengths"]["24"]["bf16_speedup"] > 0 and len(m["lengths"]["24"]["bf16_train_tokens_per_s_rounds"]) == 1
        assert not any(k.startswith("bf16") for k in m["lengths"]["32"])  # float32 only there
        assert m["lengths"]["32"]["train_tokens_per_s"] > 0
    with pytest.raises(ValueError, match=r"bf16_lengths \[99\] are not among profile.lengths"):
        profile(tiny_cfg, bf16_lengths=[99])


def test_rounds_must_be_positive(tiny_cfg):
    with pytest.raises(ValueError, match="rounds"):
        profile(tiny_cfg, rounds=0)
