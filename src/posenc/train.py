"""Training loop for the synthetic causal LMs: one recipe for every PE.

AdamW (weight decay on matrices only), linear warmup then cosine decay to
zero at train.max_steps, gradient clipping, batches of one
length per step (see LengthSampler). Shared stop rule: every train.check_every steps, measure
target-token accuracy on the validation split (sequences at the training
length); stop once it is >= train.stop_acc on train.stop_patience
consecutive checks. A non-finite loss is recorded and ends training; it never
raises.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from posenc import config, io
from posenc.config import Config
from posenc.data import synthetic
from posenc.data.synthetic import IGNORE, Sources
from posenc.errors import DataError
from posenc.model import CausalLM


def seed_everything(seed: int) -> None:
    """Same seed, same machine -> same numbers (DESIGN section 9)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # cuBLAS refuses deterministic mode unless its workspace is pinned before first use.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(os.cpu_count() or 1)


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device):
    """bf16 autocast on CUDA only; CPU runs in float32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def build_model(cfg: Config, pe: str) -> CausalLM:
    s = cfg.synthetic
    return CausalLM(cfg.model, pe, synthetic.pad_id(s.vocab_size) + 1, s.train_max_len)


def lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over target positions. logits (B, T, V), labels (B, T)."""
    return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE)


def target_counts(logits: torch.Tensor, labels: torch.Tensor) -> tuple[int, int, int, int]:
    """(correct target tokens, target tokens, exactly-right sequences, sequences)."""
    is_target = labels != IGNORE
    right = (logits.argmax(-1) == labels) & is_target
    exact = (right | ~is_target).all(dim=1)
    return int(right.sum()), int(is_target.sum()), int(exact.sum()), labels.shape[0]


def lr_at(step: int, cfg: Config) -> float:
    """Linear warmup over warmup_frac of max_steps, then cosine decay to 0."""
    t = cfg.train
    warmup = max(1, int(t.warmup_frac * t.max_steps))
    if step < warmup:
        return t.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, t.max_steps - warmup)
    return t.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def make_optimizer(model: torch.nn.Module, cfg: Config) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.train.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.train.lr, betas=(0.9, 0.98))


@torch.no_grad()
def accuracy_on(model, sources: Sources, task: str, cfg: Config, device) -> float:
    model.eval()
    right = total = 0
    for idx, labels in synthetic.fixed_batches(sources, task, cfg.synthetic.vocab_size, cfg.evaluate.batch_size):
        with autocast(device):
            logits = model(idx.to(device))
        r, n, _, _ = target_counts(logits, labels.to(device))
        right, total = right + r, total + n
    model.train()
    return right / total


LogFn = Callable[[int, dict[str, float]], None]  # (step, {"train/loss": ..., ...}), e.g. to DVCLive


def train_lm(cfg: Config, pe: str, task: str, splits: dict[str, Sources], progress: bool = True,
             on_log: LogFn | None = None) -> dict:
    """Train one causal LM.

    Returns {"state_dict", "history" (per log step: step, loss, acc, lr),
    "checks" (per stop-rule check: step, val_acc), "summary", "timing"}.
    Every history row is also passed to `on_log` as train/loss, train/acc and
    train/lr, and every check as val/acc, while training runs.
    """
    seed_everything(cfg.seed)
    device = pick_device()
    model = build_model(cfg, pe).to(device)
    opt = make_optimizer(model, cfg)
    t = cfg.train
    sampler = synthetic.LengthSampler(splits["train"], task, t.batch_size, t.curriculum_start_len,
                                      t.curriculum_steps, np.random.default_rng(cfg.seed))

    history = {"step": [], "loss": [], "acc": [], "lr": []}

    def log(step: int, loss: float, acc: float) -> None:
        for key, value in zip(history, (step, loss, acc, lr_at(step, cfg))):
            history[key].append(value)
        if on_log:
            on_log(step, {"train/loss": loss, "train/acc": acc, "train/lr": lr_at(step, cfg)})

    checks = {"step": [], "val_acc": []}
    streak, stop_reason, tokens, steps_done = 0, "max_steps", 0, 0
    start = time.perf_counter()
    bar = tqdm(range(t.max_steps), desc=f"train {task}/{pe}", disable=not progress, mininterval=2.0)
    for step in bar:
        idx, labels = synthetic.make_batch(sampler.sample(step), task, cfg.synthetic.vocab_size)
        idx, labels = idx.to(device), labels.to(device)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        with autocast(device):
            logits = model(idx)
        loss = lm_loss(logits, labels)
        if not torch.isfinite(loss):
            stop_reason = f"non-finite loss at step {step}"
            log(step, float("nan"), float("nan"))
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        opt.step()
        tokens += idx.numel()
        steps_done = step + 1

        if step % t.log_every == 0 or step == t.max_steps - 1:
            right, total, _, _ = target_counts(logits.detach(), labels)
            log(step, loss.item(), right / total)
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{right / total:.3f}")
        if steps_done % t.check_every == 0:
            val_acc = accuracy_on(model, splits["val"], task, cfg, device)
            checks["step"].append(steps_done), checks["val_acc"].append(val_acc)
            if on_log:
                on_log(steps_done, {"val/acc": val_acc})
            streak = streak + 1 if val_acc >= t.stop_acc else 0
            if progress:
                bar.write(f"{task}/{pe} step {steps_done}: val_acc {val_acc:.4f} ({time.perf_counter() - start:.0f} s)")
            if streak >= t.stop_patience:
                stop_reason = f"val_acc >= {t.stop_acc} on {t.stop_patience} checks"
                break
    bar.close()
    wall = time.perf_counter() - start
    summary = {
        "steps": steps_done,
        "stop_reason": stop_reason,
        "converged": stop_reason.startswith("val_acc"),
        "final_val_acc": checks["val_acc"][-1] if checks["val_acc"] else None,
        "train_tokens": tokens,
        "n_params": sum(p.numel() for p in model.parameters()),
    }
    timing = {"wall_s": wall, "tokens_per_s": tokens / wall if wall > 0 else 0.0, "device": device.type}
    return {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
            "history": history, "checks": checks, "summary": summary, "timing": timing}


def load_model(path) -> tuple[CausalLM, str, str]:
    """Rebuild a trained model from the config its checkpoint carries -> (model, pe, task)."""
    ckpt = io.load_checkpoint(path)
    try:
        cfg = config.from_dict(ckpt["config"])
        model = build_model(cfg, ckpt["pe"])
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, RuntimeError) as e:
        raise DataError(f"{path}: checkpoint does not match its config ({type(e).__name__})") from None
    return model, ckpt["pe"], ckpt["task"]
