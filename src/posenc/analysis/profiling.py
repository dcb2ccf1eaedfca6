"""The cost of each positional encoding, measured: the benchmark behind `make bench` (bench/profile.json).

Timings change on every run, so they are never an output of `dvc repro` (a rerun would then change
tracked files); the report reads the committed benchmark file when it exists.

For every PE, and a no-PE baseline (`nope`) measured in the same run, on an
untrained causal LM of the `model` shape, at each profile length L:

* forward tokens/s (eval mode, no gradients) and training-step tokens/s
  (forward, loss, backward, AdamW step), the median of `repeats` timings
  after `warmup` untimed ones;
* peak memory: CUDA's peak allocation on a GPU; on the CPU the process's peak
  resident set (ru_maxrss), which is why every (PE, L) runs in a fresh process;
* the overhead of the PE: its time per token divided by the baseline's, in `rounds`
  interleaved rounds (every PE and length once per round), so that a slow spell of the machine
  hits one round of a few cells, not one PE: each field is the median over the rounds and the
  overhead also keeps its range (`train_overhead_range`). On a 2-core CPU the baseline's
  tokens/s at 256 varied x1.58 between three rounds (docs/recipe.md, "The cost benchmark");
* achieved FLOP/s of the training step, as a fraction of the dense fp32
  matmul throughput measured in the same run;
* the same throughputs in bf16 autocast, and their ratio to float32 (bf16_speedup): whether bf16
  pays on this machine (the CPU flags avx512_bf16/amx_bf16 are recorded beside it).

FLOPs per token follow Kaplan et al. 2020 (table 1): forward 2N + 2 n_layer L d
per token, where N counts the weights of every matmul (attention projections,
FFN, output head); here 4 n_layer L d, since QK^T and AV are both counted in
full; a training step is three forward passes. Timings are measurements for
the report, never assertions: they move with the machine and its load.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import torch

from posenc import config as config_mod
from posenc.config import Config
from posenc.engine.lm import lm_recipe, lm_spec
from posenc.engine.runtime import pick_device, resolve, seed_everything
from posenc.engine.trainer import make_optimizer
from posenc.nn.backbone import Transformer, build_model

BASELINE = "nope"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _median_seconds(fn, warmup: int, repeats: int, device: torch.device) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_flops(n: int, warmup: int, repeats: int) -> dict:
    """Dense n x n fp32 matmul throughput of this device (2 n^3 FLOPs per product)."""
    device = pick_device()
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    seconds = _median_seconds(lambda: a @ b, warmup, repeats, device)
    return {"n": n, "seconds": seconds, "flops_per_s": 2 * n**3 / seconds}


def matmul_params(model: Transformer) -> int:
    """Weights that take part in a matmul per token (no embeddings, biases or norms)."""
    return sum(p.numel() for name, p in model.named_parameters() if p.dim() == 2 and "emb" not in name
               and not name.startswith("pe."))


def flops_per_token(model: Transformer, L: int) -> dict:
    """Kaplan-style FLOPs per token: forward 2N + 4 n_layer L d; training 3x forward."""
    n_layers, d = len(model.blocks), model.head.in_features
    forward = 2 * matmul_params(model) + 4 * n_layers * L * d
    return {"forward": forward, "train": 3 * forward}


def _build(cfg: Config, pe: str, L: int) -> Transformer:
    # Longer profile lengths than model.max_positions need bigger fixed tables; learned PE still
    # has its train_max_len rows only and clamps, exactly as in evaluation.
    spec = lm_spec(cfg, pe)
    return build_model(dataclasses.replace(spec, max_positions=max(spec.max_positions, L)))


def measure_one(cfg_dict: dict, pe: str, L: int, dtype: str = "float32") -> dict:
    """Throughput and peak memory of one PE at one length in one precision (meant to run in a fresh process)."""
    cfg = config_mod.from_dict(cfg_dict)
    p = cfg.profile
    seed_everything(cfg.seed)
    rt = resolve(dtype)
    device = rt.device
    model = _build(cfg, pe, L).to(device)
    opt = make_optimizer(model, lm_recipe(cfg))
    vocab = model.head.out_features
    idx = torch.randint(0, vocab, (p.batch_size, L), device=device)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    @torch.no_grad()
    def forward():
        model.eval()
        with rt.autocast():
            model(idx)

    def train_step():
        model.train()
        with rt.autocast():
            logits = model(idx)
        loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), idx.roll(-1, dims=1).flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    fwd = _median_seconds(forward, p.warmup, p.repeats, device)
    step = _median_seconds(train_step, p.warmup, p.repeats, device)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
        kind = "cuda_max_allocated"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        kind = "process_peak_rss"
    tokens = p.batch_size * L
    flops = flops_per_token(model, L)
    return {"forward_tokens_per_s": tokens / fwd, "train_tokens_per_s": tokens / step,
            "forward_s": fwd, "train_step_s": step, "peak_mem_mib": peak, "peak_mem_kind": kind,
            "rss_before_mib": rss_before / 1024 if device.type == "cpu" else None,
            "train_flops_per_s": flops["train"] * tokens / step, "flops_per_token": flops,
            "n_params": sum(q.numel() for q in model.parameters())}


def _measure(cfg_dict: dict, pe: str, L: int, dtype: str) -> dict:
    # A fresh process per measurement: ru_maxrss is a process-lifetime peak.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(measure_one, cfg_dict, pe, L, dtype).result()


def _median_run(rounds: list[dict]) -> dict:
    """One (PE, L, dtype) over its rounds: every measured float the median, the rest (counts, FLOPs per
    token, kinds: the same in every round) as in round 0."""
    return {k: statistics.median(r[k] for r in rounds) if isinstance(v, float) else v for k, v in rounds[0].items()}


def _combine(pe_rounds: list[dict], base_rounds: list[dict]) -> dict:
    """A PE at one length from its rounds and the baseline's: medians, overheads per round, and the bf16
    fields where bf16 was measured at this length."""
    f32 = _median_run([r["float32"] for r in pe_rounds])
    per_round = {
        "train_overhead": [b["float32"]["train_tokens_per_s"] / r["float32"]["train_tokens_per_s"]
                           for r, b in zip(pe_rounds, base_rounds)],
        "forward_overhead": [b["float32"]["forward_tokens_per_s"] / r["float32"]["forward_tokens_per_s"]
                             for r, b in zip(pe_rounds, base_rounds)]}
    out = {**f32, **{k: statistics.median(v) for k, v in per_round.items()},
           "train_overhead_range": [min(per_round["train_overhead"]), max(per_round["train_overhead"])],
           "train_tokens_per_s_rounds": [r["float32"]["train_tokens_per_s"] for r in pe_rounds]}
    if "bfloat16" in pe_rounds[0]:
        bf16 = _median_run([r["bfloat16"] for r in pe_rounds])
        out.update(bf16_forward_tokens_per_s=bf16["forward_tokens_per_s"],
                   bf16_train_tokens_per_s=bf16["train_tokens_per_s"],
                   bf16_speedup=statistics.median(r["bfloat16"]["train_tokens_per_s"] / r["float32"]["train_tokens_per_s"]
                                                  for r in pe_rounds),
                   bf16_train_tokens_per_s_rounds=[r["bfloat16"]["train_tokens_per_s"] for r in pe_rounds])
    return out


def profile(cfg: Config, progress=None, rounds: int = 1, bf16_lengths: list[int] | None = None) -> dict:
    """Every PE of cfg.pes plus the baseline at every profile length, in float32 and in bf16 autocast
    (each in its own process, one after the other), `rounds` times over -> the bench/profile.json dict.
    bf16 is measured at `bf16_lengths` only (default: every profile length): on a CPU without native bf16
    it runs ~10x slower than float32 and is most of the benchmark's time (docs/recipe.md).
    The float32 numbers fill the main fields (medians over the rounds); bf16_* fields and bf16_speedup
    (bf16 over float32 training tokens/s, measured in the same round) sit beside them; train_overhead
    is the median of the rounds' ratios to the baseline of the same round, train_overhead_range their
    extremes."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    p = cfg.profile
    bf16_at = list(p.lengths) if bf16_lengths is None else list(bf16_lengths)
    if not set(bf16_at) <= set(p.lengths):
        raise ValueError(f"bf16_lengths {sorted(set(bf16_at) - set(p.lengths))} are not among profile.lengths "
                         f"{list(p.lengths)}")
    pes = [BASELINE] + [pe for pe in cfg.pes if pe != BASELINE]
    cfg_dict = config_mod.to_dict(cfg)
    seed_everything(cfg.seed)
    device = pick_device()
    matmul = matmul_flops(p.matmul_size, p.warmup, p.repeats)
    runs = {pe: {str(L): [] for L in p.lengths} for pe in pes}  # pe -> L -> one {dtype: result} per round
    for _ in range(rounds):
        for L in p.lengths:
            for pe in pes:
                r = {}
                for dtype in ("float32", "bfloat16") if L in bf16_at else ("float32",):
                    r[dtype] = _measure(cfg_dict, pe, L, dtype)
                    if progress:
                        progress(pe, L, dtype, r[dtype])
                runs[pe][str(L)].append(r)
    base = runs[BASELINE]
    models = {}
    for pe in pes:
        lengths = {L: _combine(rs, base[L]) for L, rs in runs[pe].items()}
        for r in lengths.values():
            r["mfu"] = r["train_flops_per_s"] / matmul["flops_per_s"]
        n_params = next(iter(lengths.values()))["n_params"]
        models[pe] = {"n_params": n_params, "extra_params": n_params - next(iter(base.values()))[0]["float32"]["n_params"],
                      "lengths": lengths}
    auto = resolve("auto")
    return {"device": device.type, "device_name": torch.cuda.get_device_name() if device.type == "cuda" else
            _cpu_name(), "native_bf16": list(auto.native_bf16), "auto_dtype": auto.dtype,
            "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
            "batch_size": p.batch_size, "repeats": p.repeats, "warmup": p.warmup, "rounds": rounds,
            "bf16_lengths": sorted(bf16_at),
            "baseline": BASELINE, "matmul": matmul, "models": models}


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu"
