"""Shared fixtures: a tiny configuration derived from the real params.yaml."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import yaml

from posenc import config
from posenc.quick import quick_params

ROOT = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test`: workers share the cores instead of oversubscribing them
    workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("POSENC_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    import torch  # the tests in this process, and (through POSENC_THREADS) the stages they start

    torch.set_num_threads(int(os.environ["POSENC_THREADS"]))


def tiny_params() -> dict:
    """params.yaml shrunk so that every stage runs in seconds: the configuration of `make quick`."""
    return quick_params(yaml.safe_load((ROOT / "params.yaml").read_text()))


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


def bench_script(name: str):
    """Import bench/<name>.py (a script, not a package module)."""
    sys.path.insert(0, str(ROOT / "stages"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def untrained_copy(tiny_cfg, tmp_path):
    """An untrained tiny hard_alibi copy model (it slips often) and the tiny copy sets."""
    import torch

    from posenc import io
    from posenc.data import synthetic
    from posenc.engine.lm import lm_spec
    from posenc.nn.backbone import build_model

    torch.manual_seed(0)
    model = build_model(lm_spec(tiny_cfg, "hard_alibi")).eval()
    io.save_npz(tmp_path / "copy.npz", synthetic.generate(tiny_cfg.synthetic, "copy", 0))
    return model, synthetic.load(tmp_path / "copy.npz", "copy", tiny_cfg.synthetic.vocab_size)
