"""The synthetic driver: train one causal LM on copy or duplicate with the shared recipe.

Batches of one length per step (data/synthetic.LengthSampler), teacher-forced
next-token loss on target positions only. Shared stop rule: every
train.check_every steps, target-token accuracy on the validation split
(sequences at the training length); stop once it is >= train.stop_acc on
train.stop_patience consecutive checks.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from posenc.config import Config
from posenc.data import synthetic
from posenc.data.synthetic import IGNORE, Sources
from posenc.engine.runtime import Runtime, resolve, seed_everything
from posenc.engine.trainer import Engine, LogFn, Recipe, cpu_state
from posenc.nn.backbone import ModelSpec, Transformer, build_model


def lm_spec(cfg: Config, pe: str) -> ModelSpec:
    m, s = cfg.model, cfg.synthetic
    return ModelSpec(head="lm", pe=pe, vocab_size=synthetic.pad_id(s.vocab_size) + 1, train_max_len=s.train_max_len,
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
    is_target = labels != IGNORE
    right = (logits.argmax(-1) == labels) & is_target
    exact = (right | ~is_target).all(dim=1)
    return int(right.sum()), int(is_target.sum()), int(exact.sum()), labels.shape[0]


def token_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    right, total, _, _ = target_counts(logits, labels)
    return right / total


@torch.no_grad()
def accuracy_on(model, sources: Sources, task: str, cfg: Config, rt: Runtime) -> float:
    model.eval()
    right = total = 0
    for idx, labels in synthetic.fixed_batches(sources, task, cfg.synthetic.vocab_size, cfg.evaluate.batch_size):
        with rt.autocast():
            logits = model(idx.to(rt.device))
        r, n, _, _ = target_counts(logits, labels.to(rt.device))
        right, total = right + r, total + n
    model.train()
    return right / total


def train_lm(cfg: Config, pe: str, task: str, splits: dict[str, Sources], progress: bool = True,
             on_log: LogFn | None = None, rt: Runtime | None = None) -> dict:
    """Train one causal LM -> {"model", "state_dict", "history", "checks", "summary", "timing"}.

    Every check's validation accuracy also goes to `on_log` as val/acc. `rt` defaults to
    runtime.dtype resolved on this machine.
    """
    seed_everything(cfg.seed)
    rt = rt or resolve(cfg.runtime.dtype)
    device = rt.device
    model: Transformer = build_model(lm_spec(cfg, pe)).to(device)
    t = cfg.train
    engine = Engine(model, lm_recipe(cfg), rt, lm_loss, token_accuracy, f"train {task}/{pe}", progress, on_log)
    sampler = synthetic.LengthSampler(splits["train"], task, t.batch_size, t.curriculum_start_len,
                                      t.curriculum_steps, np.random.default_rng(cfg.seed))
    checks = {"step": [], "val_acc": []}
    streak = 0
    for step in range(t.max_steps):
        idx, labels = synthetic.make_batch(sampler.sample(step), task, cfg.synthetic.vocab_size)
        if not engine.step(step, (idx.to(device),), labels.to(device), idx.numel()):
            break
        if engine.steps_done % t.check_every == 0:
            val_acc = accuracy_on(model, splits["val"], task, cfg, rt)
            checks["step"].append(engine.steps_done), checks["val_acc"].append(val_acc)
            engine.validated(engine.steps_done, {"acc": val_acc}, f"{task}/{pe} step {engine.steps_done}: "
                                                                  f"val_acc {val_acc:.4f}")
            streak = streak + 1 if val_acc >= t.stop_acc else 0
            if streak >= t.stop_patience:
                engine.stop_reason = f"val_acc >= {t.stop_acc} on {t.stop_patience} checks"
                break
    timing = engine.finish()
    stop_reason = engine.stop_reason or "max_steps"
    summary = {
        "steps": engine.steps_done,
        "stop_reason": stop_reason,
        "converged": stop_reason.startswith("val_acc"),
        "final_val_acc": checks["val_acc"][-1] if checks["val_acc"] else None,
        "train_tokens": engine.tokens,
        "n_params": sum(p.numel() for p in model.parameters()),
        "dtype": rt.dtype,
    }
    return {"model": model, "state_dict": cpu_state(model), "history": engine.history, "checks": checks,
            "summary": summary, "timing": timing}
