"""Checkpoints: the weights, the ModelSpec that rebuilds them, and a little metadata (task, PE).

Loading needs the spec only, never params.yaml, so a change of the params
schema does not break old checkpoints. The bytes are a function of the
weights: the same model saves to the same file (see io.torch_bytes).
"""

from __future__ import annotations

from pathlib import Path

import torch

from posenc import io
from posenc.artifacts import Layout
from posenc.errors import DataError, PosencError
from posenc.nn.backbone import ModelSpec, Transformer, build_model


def save_model(path, model: Transformer, state_dict: dict | None = None, **meta) -> None:
    """Write {"spec", "meta", "state_dict"} atomically (state_dict defaults to the model's own, on the CPU)."""
    state = state_dict if state_dict is not None else {k: v.detach().cpu() for k, v in model.state_dict().items()}
    io.write_bytes(path, io.torch_bytes({"spec": model.spec.to_dict(), "meta": meta, "state_dict": state}))


def save_trained(layout: Layout, task: str, pe: str, out: dict, *records: str) -> None:
    """Everything one training writes: the checkpoint, the training summary with its per-check
    `record` ("checks" or "epochs"), and the wall-clock timing, which goes to an untracked file
    so that a rerun changes no tracked file."""
    seed = out["summary"]["seed"]
    save_model(layout.checkpoint(task, pe, seed), out["model"], out["state_dict"], task=task, seed=seed)
    io.write_json(layout.timing(task, pe, seed), out["timing"])
    io.write_json(layout.train_log(task, pe, seed), {"summary": out["summary"], **{r: out[r] for r in records}})


def load_checkpoint(path) -> dict:
    """torch.load(weights_only=True); a missing or corrupt file is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint not found (run the train stage)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged archive
        raise DataError(f"{path}: corrupt checkpoint ({type(e).__name__})") from None


def load_model(path) -> tuple[Transformer, dict]:
    """Rebuild a trained model from the spec its checkpoint carries -> (model, meta), meta holding at least "pe"."""
    ckpt = load_checkpoint(path)
    try:
        spec = ModelSpec.from_dict(ckpt["spec"])
        model = build_model(spec)
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, RuntimeError, PosencError) as e:
        raise DataError(f"{path}: checkpoint does not match its spec ({type(e).__name__})") from None
    return model, {**ckpt.get("meta", {}), "pe": spec.pe}
