"""The IMDb driver: train one classifier on reviews truncated at imdb.train_max_len, same recipe for every PE.

Inputs keep the end of a long review (imdb.truncation = tail) or its start
(head) and are batched by similar length; imdb.epochs passes over the
training split on the shared engine's schedule. After each epoch the
validation split (held out from train) is scored at the training length, and
the weights with the lowest validation loss are the ones returned.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from posenc.config import Config
from posenc.data import imdb
from posenc.data.imdb import Encoded
from posenc.engine.resume import Snapshots
from posenc.engine.runtime import Runtime, resolve, seed_everything
from posenc.engine.trainer import Engine, LogFn, Recipe, cpu_state
from posenc.metrics import macro_f1
from posenc.nn.backbone import ModelSpec, Transformer, build_model


def classifier_spec(cfg: Config, pe: str, vocab_size: int) -> ModelSpec:
    # Dropout acts on embeddings and residual branches only, not on attention
    # probabilities: with dropout_p > 0, CPU scaled_dot_product_attention leaves
    # its fused kernel, and a training step at B=32, T=256 took 1.28 s instead
    # of 0.44 s (2 cores, torch 2.13).
    m, c = cfg.model, cfg.imdb
    return ModelSpec(head="classifier", pe=pe, vocab_size=vocab_size, train_max_len=c.train_max_len,
                     n_layers=m.n_layers, d_model=m.d_model, n_heads=m.n_heads, ffn_mult=m.ffn_mult, norm=m.norm,
                     dropout=c.dropout, attn_dropout=0.0, max_positions=m.max_positions, n_classes=2,
                     pe_params=dict(cfg.pe.get(pe, {})))


def classifier_recipe(cfg: Config, total_steps: int) -> Recipe:
    c = cfg.imdb
    return Recipe(lr=c.lr, weight_decay=c.weight_decay, warmup_frac=c.warmup_frac, grad_clip=c.grad_clip,
                  total_steps=total_steps, log_every=cfg.train.log_every)


def batch_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(1) == labels).float().mean().item()


def class_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float(), labels)


@torch.no_grad()
def predict(model, e: Encoded, max_len: int, truncation: str, batch_size: int, rt: Runtime,
            idx: np.ndarray | None = None, draws: int = 1) -> np.ndarray:
    """Logits (N, C) in float32 for reviews `idx` (default all) truncated at max_len, batched by length;
    a randomized PE's are the mean over `draws` seeded position draws (nn/pe/_randomized.py)."""
    model.eval()
    idx = np.arange(len(e)) if idx is None else idx
    runs = []
    for _ in model.each_draw(draws):
        out = np.zeros((len(idx), 2), dtype=np.float32)
        for b in imdb.length_batches(np.minimum(e.lengths[idx], max_len), batch_size):
            ids, mask, _ = imdb.make_batch(e, idx[b], max_len, truncation)
            with rt.autocast():
                logits = model(ids.to(rt.device), mask.to(rt.device))
            out[b] = logits.float().cpu().numpy()
        runs.append(out)
    return runs[0] if len(runs) == 1 else np.mean(runs, axis=0).astype(np.float32)


def scores(logits: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, macro-F1 (mean of per-class F1) and mean cross-entropy; NaN logits give NaN loss."""
    pred = logits.argmax(1)
    loss = F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)).item() if len(labels) else float("nan")
    return {"acc": float((pred == labels).mean()) if len(labels) else float("nan"),
            "f1": macro_f1(pred, labels, logits.shape[1]), "loss": loss if math.isfinite(loss) else float("nan"), "n": len(labels)}


def _snapshot(model, engine: Engine, rng_state: dict, epoch: int, progress: dict) -> dict:
    """What a killed IMDb training resumes from (engine/resume.py): the epoch's batch-order generator as it
    was before that epoch's batches were drawn, so the resumed run redraws the same batches and skips the
    ones done; dropout's torch generator is in the engine's state (CUDA's beside it)."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    return {"model": cpu_state(model), "engine": engine.state(), "epoch": epoch, "epoch_rng": rng_state,
            "cuda_rng": cuda, **progress}


def _resume(state: dict, model, engine: Engine, rng: np.random.Generator, on_log: LogFn | None) -> dict:
    model.load_state_dict(state["model"])
    engine.restore(state["engine"])
    rng.bit_generator.state = state["epoch_rng"]
    if state["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    print(f"resuming from the snapshot at step {engine.steps_done}", flush=True)
    e = state["epochs"]
    if on_log:  # DVC deleted the live log: send the finished epochs' validation rows again
        for step, loss, acc in zip(state["val_steps"], e["val_loss"], e["val_acc"]):
            on_log(step, {"val/loss": loss, "val/acc": acc})
    return state


def train_classifier(cfg: Config, pe: str, splits: dict[str, Encoded], vocab_size: int, seed: int,
                     progress: bool = True, on_log: LogFn | None = None, rt: Runtime | None = None,
                     snapshots: Snapshots | None = None) -> dict:
    """Train one classifier -> {"model", "state_dict" (best val loss), "history", "epochs", "summary", "timing"}.

    Each epoch's validation scores also go to `on_log` as val/loss and val/acc. `snapshots`
    (engine/resume.py): saved every train.resume_every steps, resumed from when present, removed at the end.
    """
    seed_everything(seed)
    c = cfg.imdb
    rt = rt or resolve(cfg.runtime.dtype)
    device = rt.device
    model: Transformer = build_model(classifier_spec(cfg, pe, vocab_size)).to(device)
    train, val = splits["train"], splits["val"]
    total = c.epochs * math.ceil(len(train) / c.batch_size)
    engine = Engine(model, classifier_recipe(cfg, total), rt, class_loss, batch_accuracy, f"train imdb/{pe}/s{seed}",
                    progress, on_log)
    rng = np.random.default_rng(seed)
    train_len = np.minimum(train.lengths, c.train_max_len)
    snapshots = snapshots or Snapshots(None, 0)
    run = {"epochs": {"epoch": [], "val_loss": [], "val_acc": []}, "val_steps": [], "best": None,
           "best_loss": math.inf}
    first_epoch = 0
    if (state := snapshots.load()) is not None:
        state = _resume(state, model, engine, rng, on_log)
        run, first_epoch = {k: state[k] for k in run}, state["epoch"]
    epochs, step = run["epochs"], engine.steps_done
    for epoch in range(first_epoch, c.epochs):
        model.train()
        rng_state = rng.bit_generator.state
        batches = imdb.length_batches(train_len, c.batch_size, rng)
        done_before = step - epoch * math.ceil(len(train) / c.batch_size)  # > 0 only in a resumed epoch
        for b in batches[done_before:]:
            ids, mask, labels = (t.to(device) for t in imdb.make_batch(train, b, c.train_max_len, c.truncation))
            if not engine.step(step, (ids, mask), labels, int(mask.sum())):
                break
            step += 1
            if snapshots.due(step) and step < total:
                snapshots.save(_snapshot(model, engine, rng_state, epoch, run))
        if engine.stop_reason:
            break
        v = scores(predict(model, val, c.train_max_len, c.truncation, cfg.evaluate.batch_size, rt), val.labels)  # 1 draw
        epochs["epoch"].append(epoch + 1), epochs["val_loss"].append(v["loss"]), epochs["val_acc"].append(v["acc"])
        run["val_steps"].append(step)
        engine.validated(step, {"loss": v["loss"], "acc": v["acc"]},
                         f"imdb/{pe} epoch {epoch + 1}: val_loss {v['loss']:.4f} val_acc {v['acc']:.4f}")
        if v["loss"] < run["best_loss"]:
            run["best_loss"], run["best"] = v["loss"], cpu_state(model)
    timing = engine.finish()
    snapshots.done()
    return _result(model, engine, run, seed, step, rt, timing)


def _result(model, engine: Engine, run: dict, seed: int, step: int, rt: Runtime, timing: dict) -> dict:
    epochs, best, best_loss = run["epochs"], run["best"], run["best_loss"]
    if best is None:  # no finite validation loss: keep the last weights, say so
        best = cpu_state(model)
    finite = [x for x in epochs["val_loss"] if math.isfinite(x)]
    summary = {"seed": seed, "steps": step, "stop_reason": engine.stop_reason or "epochs",
               "best_epoch": epochs["epoch"][int(np.nanargmin(epochs["val_loss"]))] if finite else None,
               "best_val_loss": best_loss if math.isfinite(best_loss) else None,
               "train_tokens": engine.tokens, "n_params": sum(p.numel() for p in model.parameters()),
               "dtype": rt.dtype}
    return {"model": model, "state_dict": best, "history": engine.history, "epochs": epochs, "summary": summary,
            "timing": timing}
