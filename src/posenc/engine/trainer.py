"""The one optimisation loop shared by every model (causal LM and classifier alike).

AdamW (betas 0.9/0.98, weight decay on matrices only), linear warmup over
warmup_frac of the steps then cosine decay to 0, gradient clipping, logging to
a callback (DVCLive in the stages), a progress bar and timing. A non-finite
loss (read on logging steps only: no host sync on the others) is recorded and
ends training; it never raises. The task drivers
(engine/lm.py, engine/classify.py) decide what a batch is, when to validate and
which weights to keep.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm import tqdm

from posenc.engine.runtime import Runtime

LogFn = Callable[[int, dict[str, float]], None]  # (step, {"train/loss": ..., ...}), e.g. to DVCLive


@dataclass(frozen=True)
class Recipe:
    lr: float
    weight_decay: float
    warmup_frac: float
    grad_clip: float
    total_steps: int  # the schedule reaches 0 here
    log_every: int


def lr_at(step: int, r: Recipe) -> float:
    """Linear warmup over warmup_frac of total_steps, then cosine decay to 0."""
    warmup = max(1, int(r.warmup_frac * r.total_steps))
    if step < warmup:
        return r.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, r.total_steps - warmup)
    return r.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def make_optimizer(model: torch.nn.Module, r: Recipe) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": r.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=r.lr, betas=(0.9, 0.98))


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weights on the CPU (safe to keep while training goes on)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


class Engine:
    """Steps one model: engine.step(...) per batch, engine.validated(...) per check, engine.finish() at the end.

    loss_fn(output, labels) -> scalar loss; metric_fn(output, labels) -> the
    logged training accuracy. History rows (step, loss, acc, lr) also go to
    on_log as train/loss, train/acc, train/lr.
    """

    def __init__(self, model, recipe: Recipe, rt: Runtime, loss_fn, metric_fn, desc: str, progress: bool = True,
                 on_log: LogFn | None = None):
        self.model, self.recipe, self.rt = model, recipe, rt
        self.loss_fn, self.metric_fn, self.on_log, self.progress = loss_fn, metric_fn, on_log, progress
        self.opt = make_optimizer(model, recipe)
        self.history = {"step": [], "loss": [], "acc": [], "lr": []}
        self.tokens, self.steps_done, self.stop_reason = 0, 0, None
        self.start = time.perf_counter()
        self.bar = tqdm(total=recipe.total_steps, desc=desc, disable=not progress, mininterval=2.0)

    def log(self, step: int, loss: float, acc: float) -> None:
        lr = lr_at(step, self.recipe)
        for key, value in zip(self.history, (step, loss, acc, lr)):
            self.history[key].append(value)
        if self.on_log:
            self.on_log(step, {"train/loss": loss, "train/acc": acc, "train/lr": lr})

    def step(self, step: int, inputs: tuple, labels: torch.Tensor, n_tokens: int) -> bool:
        """One optimisation step on model(*inputs); False (and recorded) when the loss is not finite."""
        for group in self.opt.param_groups:
            group["lr"] = lr_at(step, self.recipe)
        with self.rt.autocast():
            out = self.model(*inputs)
        loss = self.loss_fn(out, labels)
        logging = step % self.recipe.log_every == 0 or step == self.recipe.total_steps - 1
        # The loss is read back (a host sync) only on logging steps; a non-finite loss between two of
        # them is caught at the next one, whose weights it has already spoiled.
        if logging and not math.isfinite(loss_value := loss.item()):
            self.stop_reason = f"non-finite loss at step {step}"
            self.log(step, float("nan"), float("nan"))
            return False
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.recipe.grad_clip)
        self.opt.step()
        self.tokens += n_tokens
        self.steps_done = step + 1
        if logging:
            acc = self.metric_fn(out.detach(), labels)
            self.log(step, loss_value, acc)
            self.bar.set_postfix(loss=f"{loss_value:.3f}", acc=f"{acc:.3f}")
        self.bar.update(1)
        return True

    def state(self) -> dict:
        """What a resumed run needs of the engine (engine/resume.py): optimizer, counters, history, RNG."""
        return {"opt": self.opt.state_dict(), "tokens": self.tokens, "steps_done": self.steps_done,
                "history": {k: list(v) for k, v in self.history.items()}, "torch_rng": torch.get_rng_state()}

    def restore(self, state: dict) -> None:
        """Continue from state(); the training log rows already written are sent to on_log again (DVC
        deleted the stage's outputs, the DVCLive folder included, before rerunning it)."""
        self.opt.load_state_dict(state["opt"])
        self.tokens, self.steps_done, self.history = state["tokens"], state["steps_done"], state["history"]
        torch.set_rng_state(state["torch_rng"])
        if self.on_log:
            for step, loss, acc, lr in zip(*self.history.values()):
                self.on_log(step, {"train/loss": loss, "train/acc": acc, "train/lr": lr})
        self.bar.update(self.steps_done)

    def validated(self, step: int, metrics: dict[str, float], note: str) -> None:
        """Record a validation check (val/<name> to on_log) and print it above the bar."""
        if self.on_log:
            self.on_log(step, {f"val/{k}": v for k, v in metrics.items()})
        if self.progress:
            self.bar.write(f"{note} ({time.perf_counter() - self.start:.0f} s)")

    def finish(self) -> dict:
        """Close the bar; the timing block of the training summary."""
        self.bar.close()
        wall = time.perf_counter() - self.start
        return {"wall_s": wall, "tokens_per_s": self.tokens / wall if wall > 0 else 0.0,
                "device": self.rt.device_type, "dtype": self.rt.dtype}
