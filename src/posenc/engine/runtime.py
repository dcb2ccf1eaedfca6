"""Where and how a run computes: device, seeds, threads and autocast. Same seed, same machine -> same numbers."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch, and make torch deterministic."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # cuBLAS refuses deterministic mode unless its workspace is pinned before first use.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    set_threads()


def set_threads(n: int | None = None) -> None:
    """Intra-op threads: every core unless told otherwise."""
    torch.set_num_threads(n or os.cpu_count() or 1)


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device):
    """bf16 autocast on CUDA only; CPU runs in float32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
