"""Where and how a run computes: device, precision, seeds and threads. Same seed, same machine -> same numbers.

Precision (`runtime.dtype` in params.yaml):
  auto      bf16 autocast on CUDA, and on CPUs whose matmul computes bf16 natively (the CPU flags
            avx512_bf16 or amx_bf16); float32 elsewhere. Decided from the flags, never from a
            timing (a timing flips under load). On a CPU without them bf16 is emulated and was
            measured about 10x slower than float32.
  float32   no autocast.
  bfloat16  bf16 autocast wherever it runs.
Under autocast the master weights stay float32 (autocast casts copies), and the code keeps the
loss, the softmax and RoPE's angles in float32. The `runtime` stage writes the resolved choice to
metrics/runtime.json; every stage that runs a model depends on that file and reads it, so a model
trained in bf16 is never restored from DVC's cache on a machine that would train it in float32.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from posenc.errors import ConfigError, DataError

BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # CPU flags of a native bf16 matmul


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
    """Intra-op threads: n, else the POSENC_THREADS environment variable, else every core. Parallel
    workers (`dvc queue start -j N`) set POSENC_THREADS to cores / N so they do not oversubscribe."""
    env = os.environ.get("POSENC_THREADS", "")
    if env and not (env.isdigit() and int(env) > 0):
        raise ConfigError(f"POSENC_THREADS must be a positive integer, got {env!r}")
    torch.set_num_threads(n or int(env or 0) or os.cpu_count() or 1)


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The flags of the first CPU in /proc/cpuinfo (empty where there is none)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


@dataclass(frozen=True)
class Runtime:
    """A resolved device and precision."""

    device_type: str  # "cpu" | "cuda"
    dtype: str  # "float32" | "bfloat16"
    setting: str = "auto"  # what params.yaml asked for
    native_bf16: tuple[str, ...] = ()  # the CPU flags that mark native bf16 (CPU only)

    @property
    def device(self) -> torch.device:
        return torch.device(self.device_type)

    @property
    def type(self) -> str:  # so a Runtime can stand where a torch.device's .type is read
        return self.device_type

    def autocast(self):
        return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.dtype == "bfloat16")

    def to_dict(self) -> dict:
        return {**asdict(self), "native_bf16": list(self.native_bf16)}


def resolve(setting: str, device_type: str | None = None, flags: set[str] | None = None) -> Runtime:
    """Turn runtime.dtype into a concrete precision for this machine (see the module docstring)."""
    device_type = device_type or pick_device().type
    native = tuple(f for f in BF16_FLAGS if f in (cpu_flags() if flags is None else flags)) \
        if device_type == "cpu" else ()
    if setting == "auto":
        dtype = "bfloat16" if device_type == "cuda" or native else "float32"
    else:
        dtype = setting
    return Runtime(device_type, dtype, setting, native)


def load(path, setting: str) -> Runtime:
    """The runtime the `runtime` stage resolved for runtime.dtype = `setting` on this machine;
    a missing, bad or stale file is a one-line DataError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        rt = Runtime(data["device_type"], data["dtype"], data["setting"], tuple(data["native_bf16"]))
    except FileNotFoundError:
        raise DataError(f"{path}: not found (run `dvc repro runtime`)") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: unreadable runtime ({type(e).__name__}; re-run `dvc repro runtime`)") from None
    if rt.device_type != pick_device().type:
        raise DataError(f"{path}: resolved for {rt.device_type}, but this machine runs on {pick_device().type} "
                        "(re-run `dvc repro runtime`)")
    if rt.setting != setting:
        raise DataError(f"{path}: resolved for runtime.dtype {rt.setting!r}, params.yaml says {setting!r} "
                        "(re-run `dvc repro runtime`)")
    return rt


def autocast(rt: Runtime):
    return rt.autocast()
