"""The synthetic driver: train one causal LM on copy or duplicate with the shared recipe.

Batches of one length per step (data/synthetic.LengthSampler), teacher-forced
next-token loss on target positions only. Equal budget (issue 15): every model
trains exactly train.max_steps on the full warmup + cosine schedule. The
validation checks measure learning speed (the first step at which token
accuracy and exact match reach train.solved_acc / train.solved_exact) and the
tracking checks measure extrapolation along training; neither stops anything.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from posenc.config import Config
from posenc.data import synthetic
from posenc.data.synthetic import IGNORE, Sources
from posenc.engine.resume import Snapshots
from posenc.engine.runtime import Runtime, resolve, seed_everything
from posenc.engine.trainer import Engine, LogFn, Recipe, cpu_state
from posenc.nn.backbone import ModelSpec, Transformer, build_model


def lm_spec(cfg: Config, pe: str) -> ModelSpec:
    m, s = cfg.model, cfg.synthetic
    return ModelSpec(head="lm", pe=pe, vocab_size=synthetic.model_vocab(s.vocab_size), train_max_len=s.train_max_len,
                     n_layers=m.n_layers, d_model=m.d_model, n_heads=m.n_heads, ffn_mult=m.ffn_mult, norm=m.norm,
                     dropout=m.dropout, attn_dropout=m.dropout, max_positions=m.max_positions,
                     pe_params=dict(cfg.pe.get(pe, {})))


def lm_recipe(cfg: Config) -> Recipe:
    t = cfg.train
    return Recipe(lr=t.lr, weight_decay=t.weight_decay, warmup_frac=t.warmup_frac, grad_clip=t.grad_clip,
                  total_steps=t.max_steps, log_every=t.log_every)


def lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over target positions. logits (B, T, V), labels (B, T)."""
    return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE)


def target_counts(logits: torch.Tensor, labels: torch.Tensor) -> tuple[int, int, int, int]:
    """(correct target tokens, target tokens, exactly-right sequences, sequences)."""
    right, total, exact, _ = per_sequence(logits, labels)
    return int(right.sum()), int(total.sum()), int(exact.sum()), labels.shape[0]


def per_sequence(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per sequence: (correct targets, targets, exact 0/1, summed target loss), each (B,)."""
    is_target = labels != IGNORE
    right = (logits.argmax(-1) == labels) & is_target
    nll = F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=IGNORE, reduction="none")  # (B, T)
    return right.sum(1), is_target.sum(1), (right | ~is_target).all(dim=1).long(), nll.sum(1)


def token_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    right, total, _, _ = target_counts(logits, labels)
    return right / total


@torch.no_grad()
def score_sequences(model, sources: Sources, task: str, cfg: Config, rt: Runtime,
                    draws: int | None = None) -> dict[str, np.ndarray]:
    """Every sequence of `sources`, teacher-forced, in the run's precision:
    {"right", "targets", "exact", "loss_sum"} arrays of shape (N,). A randomized PE is scored on
    `draws` (default evaluate.position_draws) seeded position draws and each array is their mean
    (nn/pe/_randomized.py); the checks during training use one, the evaluation all of them."""
    was_training = model.training
    model.eval()
    runs = []
    for _ in model.each_draw(draws or cfg.evaluate.position_draws):
        parts = []
        for idx, labels in synthetic.fixed_batches(sources, task, cfg.synthetic.vocab_size, cfg.evaluate.batch_size):
            with rt.autocast():
                logits = model(idx.to(rt.device))
            parts.append([x.cpu() for x in per_sequence(logits, labels.to(rt.device))])
        names = ("right", "targets", "exact", "loss_sum")
        runs.append({name: torch.cat([p[i] for p in parts]).numpy() for i, name in enumerate(names)})
    model.train(was_training)
    return runs[0] if len(runs) == 1 else {k: np.mean([r[k] for r in runs], axis=0) for k in runs[0]}


def summarize(scores: dict[str, np.ndarray]) -> dict[str, float]:
    """Token accuracy and exact match of score_sequences' output."""
    return {"acc": float(scores["right"].sum() / scores["targets"].sum()), "exact": float(scores["exact"].mean())}


def first_step(checks: dict, metric: str, threshold: float) -> int | None:
    """The first checked step whose `metric` reached `threshold` (None: never)."""
    return next((step for step, v in zip(checks["step"], checks[metric]) if v >= threshold), None)


def _validate(engine: Engine, model, splits, task, cfg, rt, checks: dict, tracking: dict) -> None:
    """One validation check (learning speed) and, every track_every steps, the tracking lengths."""
    step, t = engine.steps_done, cfg.train
    val = summarize(score_sequences(model, splits["val"], task, cfg, rt, draws=1))  # one draw: a check, not the result
    for name, value in (("step", step), ("val_acc", val["acc"]), ("val_exact", val["exact"])):
        checks[name].append(value)
    engine.validated(step, {"acc": val["acc"], "exact": val["exact"]},
                     f"{task} step {step}: val acc {val['acc']:.4f}, exact {val['exact']:.3f}")
    if step % t.track_every == 0 or step == t.max_steps:
        tracking["step"].append(step)
        for L in cfg.synthetic.eval_lengths:
            sources = splits[f"eval_{L}"]
            first = Sources(sources.lengths[: t.track_size], sources.tokens[: int(sources.lengths[: t.track_size].sum())])
            for name, value in summarize(score_sequences(model, first, task, cfg, rt, draws=1)).items():
                tracking.setdefault(f"{name}_{L}", []).append(value)


def _snapshot(model, engine: Engine, sampler, checks: dict, tracking: dict) -> dict:
    return {"model": cpu_state(model), "engine": engine.state(), "sampler_rng": sampler.rng.bit_generator.state,
            "checks": checks, "tracking": tracking}


def _resume(state: dict, model, engine: Engine, sampler, on_log: LogFn | None) -> tuple[dict, dict, int]:
    """Restore a snapshot (engine/resume.py); re-send its validation checks to the live log."""
    model.load_state_dict(state["model"])
    engine.restore(state["engine"])
    sampler.rng.bit_generator.state = state["sampler_rng"]
    checks = state["checks"]
    print(f"resuming from the snapshot at step {engine.steps_done}", flush=True)
    if on_log:
        for step, acc, exact in zip(checks["step"], checks["val_acc"], checks["val_exact"]):
            on_log(step, {"val/acc": acc, "val/exact": exact})
    return checks, state["tracking"], engine.steps_done


def training_pool(model: Transformer, sources: Sources, cfg: Config) -> Sources:
    """The sources training draws from: the task's pool, re-spelt in part if the PE declares a curriculum
    (PositionalEncoding.distractors; data/synthetic.narrowed)."""
    share, sizes = type(model.pe).distractors(model.pe.params)
    return synthetic.narrowed(sources, share, sizes, cfg.synthetic.vocab_size, cfg.seed) if share > 0 else sources


def train_lm(cfg: Config, pe: str, task: str, splits: dict[str, Sources], seed: int, progress: bool = True,
             on_log: LogFn | None = None, rt: Runtime | None = None, snapshots: Snapshots | None = None) -> dict:
    """Train one causal LM for exactly train.max_steps -> {"model", "state_dict", "history", "checks",
    "tracking", "summary", "timing"}.

    Equal budget: no early stop. Every check_every steps the validation split is scored (val/acc and
    val/exact to `on_log`); every track_every steps the first track_size sequences of each evaluation
    length too. `seed` sets the initialisation and the batch order; `rt` defaults to runtime.dtype
    resolved on this machine. `snapshots` (engine/resume.py): saved every train.resume_every steps,
    resumed from when present, removed at the end.
    """
    seed_everything(seed)
    rt = rt or resolve(cfg.runtime.dtype)
    model: Transformer = build_model(lm_spec(cfg, pe)).to(rt.device)
    t = cfg.train
    engine = Engine(model, lm_recipe(cfg), rt, lm_loss, token_accuracy, f"train {task}/{pe}/s{seed}", progress, on_log)
    pool = training_pool(model, splits["train"], cfg)
    sampler = synthetic.LengthSampler(pool, task, t.batch_size, t.curriculum_start_len,
                                      t.curriculum_steps, np.random.default_rng(seed), t.long_share)
    snapshots = snapshots or Snapshots(None, 0)
    checks, tracking, start = {"step": [], "val_acc": [], "val_exact": []}, {"step": []}, 0
    if (state := snapshots.load()) is not None:
        checks, tracking, start = _resume(state, model, engine, sampler, on_log)
    for step in range(start, t.max_steps):
        idx, labels = synthetic.make_batch(sampler.sample(step), task, cfg.synthetic.vocab_size)
        if not engine.step(step, (idx.to(rt.device),), labels.to(rt.device), idx.numel()):
            break
        done = engine.steps_done
        if done % t.check_every == 0 or done % t.track_every == 0 or done == t.max_steps:
            _validate(engine, model, splits, task, cfg, rt, checks, tracking)
        if snapshots.due(done) and done < t.max_steps:
            snapshots.save(_snapshot(model, engine, sampler, checks, tracking))
    timing = engine.finish()
    snapshots.done()
    summary = {
        "seed": seed,
        "steps": engine.steps_done,
        "stop_reason": engine.stop_reason or "max_steps",
        "final_val_acc": checks["val_acc"][-1] if checks["val_acc"] else None,
        "final_val_exact": checks["val_exact"][-1] if checks["val_exact"] else None,
        "first_step_acc": first_step(checks, "val_acc", t.solved_acc),  # learning speed (None: never)
        "first_step_exact": first_step(checks, "val_exact", t.solved_exact),
        "train_tokens": engine.tokens,
        "n_params": sum(p.numel() for p in model.parameters()),
        "dtype": rt.dtype,
    }
    return {"model": model, "state_dict": cpu_state(model), "history": engine.history, "checks": checks,
            "tracking": tracking, "summary": summary, "timing": timing}
