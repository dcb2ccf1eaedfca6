"""The training engine and its two drivers: determinism, logging, schedule, NaN handling, checkpoints."""

import math

import numpy as np
import pytest
import torch

from posenc.analysis.evaluate import evaluate_lm
from posenc.data import synthetic
from posenc.data.synthetic import Sources
from posenc.engine import lm, trainer
from posenc.errors import DataError
from posenc.nn.checkpoint import load_model, save_model
from posenc.nn.pe import available


def splits_for(cfg, task):
    arrays = synthetic.generate(cfg.synthetic, task, cfg.seed)
    return {k[: -len("_lengths")]: Sources(arrays[k], arrays[k[: -len("_lengths")] + "_tokens"])
            for k in arrays if k.endswith("_lengths")}


@pytest.mark.parametrize("pe", available())
def test_two_runs_give_identical_weights_metrics_and_checkpoint_bytes(tiny_cfg, pe, tmp_path):
    cfg = tiny_cfg
    splits = splits_for(cfg, "copy")
    a = lm.train_lm(cfg, pe, "copy", splits, 0, progress=False)
    b = lm.train_lm(cfg, pe, "copy", splits, 0, progress=False)
    assert a["history"] == b["history"] and a["summary"] == b["summary"]
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    save_model(tmp_path / "a.pt", a["model"], a["state_dict"], task="copy")
    save_model(tmp_path / "b.pt", b["model"], b["state_dict"], task="copy")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


def test_live_log_receives_every_history_row_and_check(tiny_cfg):
    rows = []
    out = lm.train_lm(tiny_cfg, "rope", "copy", splits_for(tiny_cfg, "copy"), 0, progress=False,
                      on_log=lambda step, metrics: rows.append((step, metrics)))
    h, c = out["history"], out["checks"]
    logged = [(s, m) for s, m in rows if "train/loss" in m]
    assert [s for s, _ in logged] == h["step"]
    assert [m["train/loss"] for _, m in logged] == h["loss"] and [m["train/acc"] for _, m in logged] == h["acc"]
    assert [(s, m["val/acc"]) for s, m in rows if "val/acc" in m] == list(zip(c["step"], c["val_acc"]))
    assert c["step"]  # the tiny run makes at least one check
    assert h["step"][-1] == tiny_cfg.train.max_steps - 1  # the last step is always logged


def test_lr_schedule_warms_up_then_decays_to_zero(tiny_cfg):
    r = lm.lm_recipe(tiny_cfg)
    lrs = [trainer.lr_at(s, r) for s in range(r.total_steps + 1)]
    peak = int(np.argmax(lrs))
    assert lrs[peak] == pytest.approx(r.lr)
    assert all(x <= y for x, y in zip(lrs[:peak], lrs[1 : peak + 1]))
    assert all(x >= y for x, y in zip(lrs[peak:], lrs[peak + 1 :]))
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)


def test_weight_decay_applies_to_matrices_only(tiny_cfg):
    model = lm.build_model(lm.lm_spec(tiny_cfg, "learned"))
    decay, rest = trainer.make_optimizer(model, lm.lm_recipe(tiny_cfg)).param_groups
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in rest["params"])
    assert decay["weight_decay"] == tiny_cfg.train.weight_decay and rest["weight_decay"] == 0.0
    assert len(decay["params"]) + len(rest["params"]) == len(list(model.parameters()))


def test_non_finite_loss_is_recorded_not_raised(tiny_cfg, monkeypatch):
    real = lm.lm_loss
    monkeypatch.setattr(lm, "lm_loss", lambda logits, labels: real(logits, labels) * float("inf"))
    out = lm.train_lm(tiny_cfg, "rope", "copy", splits_for(tiny_cfg, "copy"), 0, progress=False)
    assert out["summary"]["stop_reason"] == "non-finite loss at step 0"
    assert out["summary"]["steps"] == 0 and out["summary"]["first_step_exact"] is None
    assert math.isnan(out["history"]["loss"][-1])


def test_equal_budget_no_early_stop_and_learning_speed_is_recorded(tiny_cfg, monkeypatch):
    """Issue 15: a model that is perfect from its first check still trains every step of the schedule."""
    def perfect(model, sources, *a, **k):
        n = len(sources)
        return {"right": np.full(n, 5), "targets": np.full(n, 5), "exact": np.ones(n, int), "loss_sum": np.zeros(n)}

    monkeypatch.setattr(lm, "score_sequences", perfect)
    out = lm.train_lm(tiny_cfg, "learned", "copy", splits_for(tiny_cfg, "copy"), 0, progress=False)
    c, s = tiny_cfg.train, out["summary"]
    assert s["steps"] == c.max_steps and s["stop_reason"] == "max_steps"
    assert s["first_step_acc"] == s["first_step_exact"] == min(c.check_every, c.track_every)
    assert out["tracking"]["step"][-1] == c.max_steps
    assert set(out["tracking"]) == {"step", *(f"{m}_{L}" for m in ("acc", "exact") for L in tiny_cfg.synthetic.eval_lengths)}


def test_seed_sets_initialisation_and_batch_order(tiny_cfg):
    splits = splits_for(tiny_cfg, "copy")
    a, b = (lm.train_lm(tiny_cfg, "rope", "copy", splits, seed, progress=False) for seed in (0, 1))
    assert a["summary"]["seed"] == 0 and b["summary"]["seed"] == 1
    assert not torch.equal(a["state_dict"]["tok_emb.weight"], b["state_dict"]["tok_emb.weight"])


def test_a_start_token_task_trains_and_scores_every_sequence_on_its_n_targets(tiny_cfg):
    """copy_start end to end: trained, then every evaluation sequence scored on its n targets (not n + 1: the
    start token is no target), each sequence fitting its evaluation length."""
    start = splits_for(tiny_cfg, "copy_start")
    out = evaluate_lm(lm.train_lm(tiny_cfg, "alibi", "copy_start", start, 0, progress=False)["model"], start,
                      "copy_start", tiny_cfg, [16, 32])
    for L in (16, 32):
        n = synthetic.n_for_length("copy_start", L)
        assert out[str(L)]["targets"] == n and len(out[str(L)]["per_seq"]["right"]) == tiny_cfg.synthetic.eval_size
        assert out[str(L)]["seq_len"] == synthetic.total_length("copy_start", n) <= L


def test_checkpoint_round_trip_and_evaluation(tmp_path, tiny_cfg):
    splits = splits_for(tiny_cfg, "duplicate")
    out = lm.train_lm(tiny_cfg, "alibi", "duplicate", splits, 0, progress=False)
    path = tmp_path / "m.pt"
    save_model(path, out["model"], out["state_dict"], task="duplicate")
    model, meta = load_model(path)
    assert meta == {"pe": "alibi", "task": "duplicate"}
    metrics = evaluate_lm(model, splits, "duplicate", tiny_cfg, [16, 24, 32])
    ref = evaluate_lm(out["model"], splits, "duplicate", tiny_cfg, [16, 24, 32])
    assert metrics == ref
    for L in ("16", "24", "32"):
        m = metrics[L]
        assert 0.0 <= m["token_acc"] <= 1.0 and 0.0 <= m["exact_match"] <= m["token_acc"] + 1e-9
        assert m["seq_len"] <= int(L) and m["n_seqs"] == tiny_cfg.synthetic.eval_size
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match="m.pt: corrupt checkpoint"):
        load_model(path)
    with pytest.raises(DataError, match="not found"):
        load_model(tmp_path / "missing.pt")


def test_precision_follows_the_cpu_flags_never_a_timing():
    from posenc.engine.runtime import resolve

    assert resolve("auto", "cpu", {"avx2", "fma"}).dtype == "float32"
    assert resolve("auto", "cpu", {"avx2", "avx512f", "avx512_bf16"}).dtype == "bfloat16"
    assert resolve("auto", "cpu", {"amx_bf16"}).native_bf16 == ("amx_bf16",)
    assert resolve("auto", "cuda", set()).dtype == "bfloat16"
    assert resolve("float32", "cuda", set()).dtype == "float32"
    assert resolve("bfloat16", "cpu", {"avx2"}).dtype == "bfloat16"


def test_runtime_file_round_trip_and_stale_file_errors(tmp_path):
    from posenc import io
    from posenc.engine import runtime

    rt = runtime.resolve("float32")
    io.write_json(tmp_path / "runtime.json", rt.to_dict())
    assert runtime.load(tmp_path / "runtime.json", "float32") == rt
    with pytest.raises(DataError, match="resolved for runtime.dtype 'float32', params.yaml says 'auto'"):
        runtime.load(tmp_path / "runtime.json", "auto")
    with pytest.raises(DataError, match="missing.json: not found"):
        runtime.load(tmp_path / "missing.json", "auto")


def test_bf16_training_is_deterministic_and_keeps_float32_master_weights(tiny_cfg):
    from posenc.engine.runtime import resolve

    rt = resolve("bfloat16", "cpu")
    splits = splits_for(tiny_cfg, "copy")
    a = lm.train_lm(tiny_cfg, "rope", "copy", splits, 0, progress=False, rt=rt)
    b = lm.train_lm(tiny_cfg, "rope", "copy", splits, 0, progress=False, rt=rt)
    assert a["summary"]["dtype"] == "bfloat16" and a["timing"]["dtype"] == "bfloat16"
    assert all(v.dtype == torch.float32 for v in a["state_dict"].values() if v.is_floating_point())
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    f32 = lm.train_lm(tiny_cfg, "rope", "copy", splits, 0, progress=False, rt=resolve("float32", "cpu"))
    assert not all(torch.equal(a["state_dict"][k], f32["state_dict"][k]) for k in a["state_dict"])


class Killed(Exception):
    pass


def test_a_killed_training_resumes_from_its_snapshot_and_ends_byte_identical(tiny_params_dict, tmp_path):
    """Issue 17: stop a tiny run after a snapshot (an exception in the log callback stands in for kill -9),
    rerun: it resumes (not from step 0) and every output equals an uninterrupted run's, the live log
    rows included; the snapshot is removed at the end."""
    from posenc import config
    from posenc.engine.resume import Snapshots

    tiny_params_dict["train"].update(max_steps=12, resume_every=4, log_every=1)
    cfg = config.from_dict(tiny_params_dict)
    splits = splits_for(cfg, "copy")
    rows_ref = []
    ref = lm.train_lm(cfg, "learned", "copy", splits, 0, progress=False, on_log=lambda s, m: rows_ref.append((s, m)))

    snaps = Snapshots(tmp_path / "snap.pt", cfg.train.resume_every)

    def dies_at_step_9(step, metrics):
        if step == 9:
            raise Killed

    with pytest.raises(Killed):
        lm.train_lm(cfg, "learned", "copy", splits, 0, progress=False, on_log=dies_at_step_9, snapshots=snaps)
    assert (tmp_path / "snap.pt").is_file() and snaps.load()["engine"]["steps_done"] == 8
    rows = []
    out = lm.train_lm(cfg, "learned", "copy", splits, 0, progress=False, on_log=lambda s, m: rows.append((s, m)),
                      snapshots=snaps)
    assert out["history"] == ref["history"] and out["checks"] == ref["checks"] and out["tracking"] == ref["tracking"]
    assert out["summary"] == ref["summary"]
    assert all(torch.equal(out["state_dict"][k], ref["state_dict"][k]) for k in ref["state_dict"])
    by_name = lambda rs: sorted((k, s, v) for s, m in rs for k, v in m.items())  # noqa: E731  per metric, step order
    assert by_name(rows) == by_name(rows_ref)
    assert not (tmp_path / "snap.pt").exists()


def test_only_a_pe_with_a_curriculum_trains_on_a_respelt_pool(tiny_cfg):
    """hard_alibi_ngram re-spells distractor_share of the training sequences (data/synthetic.narrowed);
    every other PE trains on the task's pool itself, and the evaluation sets are never touched."""
    pool = splits_for(tiny_cfg, "copy")["train"]
    plain = lm.training_pool(lm.build_model(lm.lm_spec(tiny_cfg, "hard_alibi")), pool, tiny_cfg)
    assert plain is pool
    model = lm.build_model(lm.lm_spec(tiny_cfg, "hard_alibi_ngram"))
    share, (k,) = type(model.pe).distractors(model.pe.params)
    out = lm.training_pool(model, pool, tiny_cfg)
    changed = [i for i in range(len(pool)) if not np.array_equal(out.get(i), pool.get(i))]
    assert 0.5 * share * len(pool) < len(changed) < 1.5 * share * len(pool)
    assert all(len(set(out.get(i).tolist())) <= k for i in changed)
    assert np.array_equal(lm.training_pool(model, pool, tiny_cfg).tokens, out.tokens)  # the data seed alone
