"""Training loop for the IMDb classifiers: one recipe for every PE.

Inputs truncated to imdb.train_max_len tokens (keeping the end of a long
review with imdb.truncation = tail, its start with head) and batched by similar length;
AdamW (weight decay on matrices only), linear warmup then cosine decay to 0
over imdb.epochs, gradient clipping. After each epoch the validation split
(held out from train) is scored at the training length, and the weights with
the lowest validation loss are the ones returned. A non-finite loss is
recorded and ends training; it never raises.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from posenc import config, io
from posenc.classifier import Classifier
from posenc.config import Config
from posenc.data import imdb
from posenc.data.imdb import Encoded
from posenc.errors import DataError
from posenc.train import LogFn, autocast, pick_device, seed_everything


def build_classifier(cfg: Config, pe: str, vocab_size: int) -> Classifier:
    return Classifier(cfg.model, pe, vocab_size, cfg.imdb.train_max_len, dropout=cfg.imdb.dropout)


def lr_at(step: int, total: int, cfg: Config) -> float:
    """Linear warmup over imdb.warmup_frac of all steps, then cosine decay to 0."""
    c = cfg.imdb
    warmup = max(1, int(c.warmup_frac * total))
    if step < warmup:
        return c.lr * (step + 1) / warmup
    return c.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


@torch.no_grad()
def predict(model, e: Encoded, max_len: int, truncation: str, batch_size: int, device,
            idx: np.ndarray | None = None) -> np.ndarray:
    """Logits (N, C) in float32 for reviews `idx` (default all) truncated at max_len, batched by length."""
    model.eval()
    idx = np.arange(len(e)) if idx is None else idx
    out = np.zeros((len(idx), 2), dtype=np.float32)
    for b in imdb.length_batches(np.minimum(e.lengths[idx], max_len), batch_size):
        ids, mask, _ = imdb.make_batch(e, idx[b], max_len, truncation)
        with autocast(device):
            logits = model(ids.to(device), mask.to(device))
        out[b] = logits.float().cpu().numpy()
    return out


def scores(logits: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, macro-F1 (mean of per-class F1) and mean cross-entropy; NaN logits give NaN loss."""
    pred = logits.argmax(1)
    f1s = []
    for c in range(logits.shape[1]):
        tp = int(((pred == c) & (labels == c)).sum())
        fp, fn = int(((pred == c) & (labels != c)).sum()), int(((pred != c) & (labels == c)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    loss = F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)).item() if len(labels) else float("nan")
    return {"acc": float((pred == labels).mean()) if len(labels) else float("nan"),
            "f1": float(np.mean(f1s)), "loss": loss if math.isfinite(loss) else float("nan"), "n": int(len(labels))}


def train_classifier(cfg: Config, pe: str, splits: dict[str, Encoded], vocab_size: int, progress: bool = True,
                     on_log: LogFn | None = None) -> dict:
    """Train one classifier; returns {"state_dict" (best val loss), "history", "epochs", "summary", "timing"}.

    Log rows also go to `on_log` (train/loss, train/acc, train/lr), and each
    epoch's validation scores as val/loss and val/acc at the epoch's last step.
    """
    seed_everything(cfg.seed)
    c = cfg.imdb
    device = pick_device()
    model = build_classifier(cfg, pe, vocab_size).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": c.weight_decay}, {"params": rest, "weight_decay": 0.0}],
                            lr=c.lr, betas=(0.9, 0.98))
    rng = np.random.default_rng(cfg.seed)
    train, val = splits["train"], splits["val"]
    train_len = np.minimum(train.lengths, c.train_max_len)
    steps_per_epoch = math.ceil(len(train) / c.batch_size)
    total = c.epochs * steps_per_epoch

    history = {"step": [], "loss": [], "acc": [], "lr": []}

    def log(step: int, loss: float, acc: float, lr: float) -> None:
        for key, value in zip(history, (step, loss, acc, lr)):
            history[key].append(value)
        if on_log:
            on_log(step, {"train/loss": loss, "train/acc": acc, "train/lr": lr})
    epochs = {"epoch": [], "val_loss": [], "val_acc": []}
    best, best_loss, step, tokens, stop_reason = None, math.inf, 0, 0, "epochs"
    start = time.perf_counter()
    bar = tqdm(total=total, desc=f"train imdb/{pe}", disable=not progress, mininterval=2.0)
    for epoch in range(c.epochs):
        model.train()
        for b in imdb.length_batches(train_len, c.batch_size, rng):
            ids, mask, labels = (t.to(device) for t in imdb.make_batch(train, b, c.train_max_len, c.truncation))
            lr = lr_at(step, total, cfg)
            for group in opt.param_groups:
                group["lr"] = lr
            with autocast(device):
                logits = model(ids, mask)
            loss = F.cross_entropy(logits.float(), labels)
            if not torch.isfinite(loss):
                stop_reason = f"non-finite loss at step {step}"
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), c.grad_clip)
            opt.step()
            tokens += int(mask.sum())
            if step % cfg.train.log_every == 0:
                acc = (logits.argmax(1) == labels).float().mean().item()
                log(step, loss.item(), acc, lr)
                bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{acc:.3f}")
            step += 1
            bar.update(1)
        if stop_reason != "epochs":
            log(step, float("nan"), float("nan"), lr_at(step, total, cfg))
            break
        v = scores(predict(model, val, c.train_max_len, c.truncation, cfg.evaluate.batch_size, device),
                   val.labels)
        epochs["epoch"].append(epoch + 1), epochs["val_loss"].append(v["loss"]), epochs["val_acc"].append(v["acc"])
        if on_log:
            on_log(step, {"val/loss": v["loss"], "val/acc": v["acc"]})
        if progress:
            bar.write(f"imdb/{pe} epoch {epoch + 1}: val_loss {v['loss']:.4f} val_acc {v['acc']:.4f} "
                      f"({time.perf_counter() - start:.0f} s)")
        if v["loss"] < best_loss:
            best_loss, best = v["loss"], copy.deepcopy({k: t.cpu() for k, t in model.state_dict().items()})
    bar.close()
    wall = time.perf_counter() - start
    if best is None:  # no finite validation loss: keep the last weights, say so
        best = {k: t.cpu() for k, t in model.state_dict().items()}
    best_epoch = epochs["epoch"][int(np.nanargmin(epochs["val_loss"]))] if any(
        math.isfinite(x) for x in epochs["val_loss"]) else None
    summary = {"steps": step, "stop_reason": stop_reason, "best_epoch": best_epoch,
               "best_val_loss": best_loss if math.isfinite(best_loss) else None,
               "train_tokens": tokens, "n_params": sum(p.numel() for p in model.parameters())}
    timing = {"wall_s": wall, "tokens_per_s": tokens / wall if wall > 0 else 0.0, "device": device.type}
    return {"state_dict": best, "history": history, "epochs": epochs, "summary": summary, "timing": timing}


def evaluate_classifier(model, test: Encoded, cfg: Config) -> dict:
    """Scores with test reviews truncated at each imdb.eval_lengths L, overall and per length bucket.

    A review no longer than a shorter L already scored is the same input at
    this L, so its logits are reused instead of recomputed.
    """
    c = cfg.imdb
    device = pick_device()
    model.to(device)
    names = imdb.bucket_names(c.bucket_edges)
    bucket = imdb.bucket_of(test.lengths, c.bucket_edges)
    logits = None
    out = {}
    prev = 0
    for L in c.eval_lengths:
        todo = np.flatnonzero(test.lengths > prev) if logits is not None else np.arange(len(test))
        fresh = predict(model, test, L, c.truncation, cfg.evaluate.batch_size, device, todo)
        if logits is None:
            logits = fresh
        else:
            logits = logits.copy()
            logits[todo] = fresh
        prev = L
        res = scores(logits, test.labels)
        res["buckets"] = {names[k]: scores(logits[bucket == k], test.labels[bucket == k])
                          for k in range(len(names)) if (bucket == k).any()}
        res["frac_truncated"] = float((test.lengths > L).mean())
        out[str(L)] = res
    return out


def load_classifier(path) -> tuple[Classifier, str]:
    """Rebuild a trained classifier from the config its checkpoint carries -> (model, pe)."""
    ckpt = io.load_checkpoint(path)
    try:
        cfg = config.from_dict(ckpt["config"])
        model = build_classifier(cfg, ckpt["pe"], ckpt["vocab_size"])
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, RuntimeError) as e:
        raise DataError(f"{path}: checkpoint does not match its config ({type(e).__name__})") from None
    return model, ckpt["pe"]
