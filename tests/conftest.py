"""Shared fixtures: a tiny configuration derived from the real params.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from posenc import config

ROOT = Path(__file__).resolve().parents[1]


def tiny_params() -> dict:
    """params.yaml shrunk so that every stage runs in seconds (same keys, smaller values)."""
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["synthetic"].update(train_max_len=16, train_size=300, val_size=4, eval_size=4,
                             eval_lengths=[16, 32], curve_lengths=[24])
    data["model"].update(n_layers=1, d_model=16, n_heads=2, max_positions=32)
    data["train"].update(batch_size=4, max_steps=6, check_every=3, log_every=2, curriculum_steps=3,
                         curriculum_start_len=8)
    data["evaluate"].update(batch_size=4)
    data["probe"].update(lengths=[16, 32], batch_size=2, map_lengths=[16, 32])
    data["profile"].update(lengths=[16, 32], batch_size=2, warmup=1, repeats=2, matmul_size=64)
    data["imdb"].update(tokenizer_vocab=300, min_frequency=1, val_frac=0.25, train_max_len=16,
                        eval_lengths=[16, 32], bucket_edges=[16, 32], epochs=2, batch_size=4)
    return data


def default_sections() -> dict[str, dict]:
    """params.yaml's `pe` section: every registered PE's shipped hyperparameters."""
    return yaml.safe_load((ROOT / "params.yaml").read_text())["pe"]


def tiny_spec(pe: str, head: str = "lm", **kw):
    """A small model of any registered PE, with that PE's shipped params."""
    from posenc.nn.backbone import ModelSpec

    base = dict(head=head, pe=pe, vocab_size=12, train_max_len=16, n_layers=2, d_model=32, n_heads=4, ffn_mult=4,
                norm="layernorm", dropout=0.0, attn_dropout=0.0, max_positions=64,
                n_classes=2 if head == "classifier" else 0, pe_params=default_sections().get(pe, {}))
    return ModelSpec(**{**base, **kw})


@pytest.fixture
def tiny_cfg() -> config.Config:
    return config.from_dict(tiny_params())


@pytest.fixture
def tiny_params_dict() -> dict:
    return tiny_params()
