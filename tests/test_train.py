"""Training: determinism, NaN handling, checkpoints that carry their config."""

import math

import numpy as np
import pytest
import torch

from posenc import config, io, train
from posenc.data import synthetic
from posenc.data.synthetic import Sources
from posenc.errors import DataError
from posenc.evaluate import evaluate_lm


def splits_for(cfg, task):
    arrays = synthetic.generate(cfg.synthetic, task, cfg.seed)
    return {k[: -len("_lengths")]: Sources(arrays[k], arrays[k[: -len("_lengths")] + "_tokens"])
            for k in arrays if k.endswith("_lengths")}


@pytest.mark.parametrize("pe", ["sinusoidal", "alibi"])
def test_two_runs_give_identical_weights_and_metrics(tiny_cfg, pe):
    splits = splits_for(tiny_cfg, "copy")
    a = train.train_lm(tiny_cfg, pe, "copy", splits, progress=False)
    b = train.train_lm(tiny_cfg, pe, "copy", splits, progress=False)
    assert a["history"] == b["history"] and a["summary"] == b["summary"]
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_live_log_receives_every_history_row_and_check(tiny_cfg):
    rows = []
    out = train.train_lm(tiny_cfg, "rope", "copy", splits_for(tiny_cfg, "copy"), progress=False,
                         on_log=lambda step, metrics: rows.append((step, metrics)))
    h, c = out["history"], out["checks"]
    logged = [(s, m) for s, m in rows if "train/loss" in m]
    assert [s for s, _ in logged] == h["step"]
    assert [m["train/loss"] for _, m in logged] == h["loss"] and [m["train/acc"] for _, m in logged] == h["acc"]
    assert [(s, m["val/acc"]) for s, m in rows if "val/acc" in m] == list(zip(c["step"], c["val_acc"]))
    assert c["step"]  # the tiny run makes at least one check


def test_lr_schedule_warms_up_then_decays_to_zero(tiny_cfg):
    t = tiny_cfg.train
    lrs = [train.lr_at(s, tiny_cfg) for s in range(t.max_steps + 1)]
    peak = int(np.argmax(lrs))
    assert lrs[peak] == pytest.approx(t.lr)
    assert all(x <= y for x, y in zip(lrs[:peak], lrs[1 : peak + 1]))
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)


def test_non_finite_loss_is_recorded_not_raised(tiny_cfg, monkeypatch):
    real = train.lm_loss
    monkeypatch.setattr(train, "lm_loss", lambda logits, labels: real(logits, labels) * float("inf"))
    out = train.train_lm(tiny_cfg, "rope", "copy", splits_for(tiny_cfg, "copy"), progress=False)
    assert out["summary"]["stop_reason"].startswith("non-finite loss")
    assert not out["summary"]["converged"]
    assert math.isnan(out["history"]["loss"][-1])


def test_stop_rule_ends_training_once_validation_accuracy_holds(tiny_cfg, monkeypatch):
    monkeypatch.setattr(train, "accuracy_on", lambda *a, **k: 1.0)
    out = train.train_lm(tiny_cfg, "learned", "copy", splits_for(tiny_cfg, "copy"), progress=False)
    c = tiny_cfg.train
    assert out["summary"]["converged"]
    assert out["summary"]["steps"] == c.check_every * c.stop_patience


def test_checkpoint_round_trip_and_evaluation(tmp_path, tiny_cfg):
    splits = splits_for(tiny_cfg, "duplicate")
    out = train.train_lm(tiny_cfg, "alibi", "duplicate", splits, progress=False)
    path = tmp_path / "m.pt"
    io.save_checkpoint(path, {"config": config.to_dict(tiny_cfg), "pe": "alibi", "task": "duplicate",
                              "state_dict": out["state_dict"]})
    model, pe, task = train.load_model(path)
    assert (pe, task) == ("alibi", "duplicate")
    metrics = evaluate_lm(model, splits, task, tiny_cfg, [16, 24, 32])
    for L in ("16", "24", "32"):
        m = metrics[L]
        assert 0.0 <= m["token_acc"] <= 1.0 and 0.0 <= m["exact_match"] <= m["token_acc"] + 1e-9
        assert m["seq_len"] <= int(L) and m["n_seqs"] == tiny_cfg.synthetic.eval_size
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match="m.pt: corrupt checkpoint"):
        train.load_model(path)
    with pytest.raises(DataError, match="not found"):
        train.load_model(tmp_path / "missing.pt")
