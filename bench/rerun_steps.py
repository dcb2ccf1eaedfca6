"""Is training byte-identical across processes on this machine? The check behind the seed-0 exception
(docs/study.md, "Seed 0 was trained twice").

The determinism tests train twice in one process. This script trains the first `--steps` optimisation steps
of one model (params file, task, PE, seed, the stage's own data file) in `--runs` fresh processes, each
reporting its logged training loss (every train.log_every steps) and an md5 of the weights every 10 steps,
and compares them: identical, or the first step where they part. `--threads 1` adds runs at other
intra-op thread counts (POSENC_THREADS), to see whether a thread count explains a difference; `--isa`
adds runs with oneDNN capped at an instruction set (ONEDNN_MAX_CPU_ISA, e.g. AVX512_CORE_BF16: no AMX),
to see whether another kernel choice does. `--against` takes the DVCLive loss.tsv of a recorded run and
says at which logged step that run left the reruns, and each thread count's and ISA cap's run.

    python bench/rerun_steps.py --params study/params.yaml --data ~/.cache/posenc-study/data/synthetic/copy_start.npz \\
        --task copy_start --pe hard_alibi_ngram --seed 0 --steps 120 --runs 12 --threads 1 3 4 \\
        --isa AVX512_CORE_AMX AVX512_CORE_FP16 AVX512_CORE_BF16 \\
        --against ~/.cache/posenc-study/metrics/live/copy_start_hard_alibi_ngram_s0/plots/metrics/train/loss.tsv

Writes bench/rerun_steps.json (the CPU named in it). Run it alone: it is a check of bytes, not of time.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from posenc import config, io
from posenc.analysis.profiling import _cpu_name as cpu_name  # the name the profile records
from posenc.data import synthetic
from posenc.engine import runtime
from posenc.engine.lm import lm_loss, lm_recipe, lm_spec, token_accuracy, training_pool
from posenc.engine.trainer import Engine
from posenc.nn.backbone import build_model

OUT = Path(__file__).with_suffix(".json")
HASH_EVERY = 10


def train_steps(cfg: config.Config, splits: dict, task: str, pe: str, seed: int, steps: int) -> dict:
    """The first `steps` steps of train_lm's loop, in this process -> {"loss": {step: value}, "md5": {step: hex}}."""
    runtime.seed_everything(seed)
    rt = runtime.resolve(cfg.runtime.dtype)
    model = build_model(lm_spec(cfg, pe)).to(rt.device)
    engine = Engine(model, lm_recipe(cfg), rt, lm_loss, token_accuracy, "rerun", False, None)
    t = cfg.train
    sampler = synthetic.LengthSampler(training_pool(model, splits["train"], cfg), task, t.batch_size,
                                      t.curriculum_start_len, t.curriculum_steps, np.random.default_rng(seed),
                                      t.long_share)
    md5 = {}
    for step in range(steps):
        idx, labels = synthetic.make_batch(sampler.sample(step), task, cfg.synthetic.vocab_size)
        engine.step(step, (idx.to(rt.device),), labels.to(rt.device), idx.numel())
        if (step + 1) % HASH_EVERY == 0:
            weights = b"".join(v.detach().cpu().float().numpy().tobytes() for v in model.state_dict().values())
            md5[step + 1] = hashlib.md5(weights).hexdigest()
    return {"loss": dict(zip(engine.history["step"], engine.history["loss"])), "md5": md5}


def first_difference(a: dict, b: dict) -> int | None:
    """The first step (of the steps both record) where two {step: value} records differ; None if none does."""
    return next((s for s in sorted(set(a) & set(b), key=int) if a[s] != b[s]), None)


def read_tsv(path: Path) -> dict:
    """A DVCLive metric file (step<TAB>value) -> {step: value}."""
    rows = [line.split("\t") for line in Path(path).read_text().splitlines()[1:] if line.strip()]
    return {int(step): float(value) for step, value in rows}


def _child(args) -> None:
    cfg = config.load(args.params)
    splits = synthetic.load(args.data, args.task, cfg.synthetic.vocab_size)
    print(json.dumps(train_steps(cfg, splits, args.task, args.pe, args.seed, args.steps)))


def _run(args, extra_env: dict | None = None) -> dict:
    env = {**os.environ, **(extra_env or {})}
    cmd = [sys.executable, __file__, "--child", *sys.argv[1:]]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    record = json.loads(out.strip().splitlines()[-1])
    return {k: {int(s): v for s, v in record[k].items()} for k in record}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--data", required=True, help="the stage's prepared data file (data/synthetic/<task>.npz)")
    ap.add_argument("--task", required=True)
    ap.add_argument("--pe", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="*", default=[], help="other POSENC_THREADS to run once each")
    ap.add_argument("--isa", nargs="*", default=[], help="ONEDNN_MAX_CPU_ISA caps to run once each")
    ap.add_argument("--against", help="a recorded run's DVCLive train/loss.tsv")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(args)
    runs = [_run(args) for _ in range(args.runs)]
    ref = runs[0]
    parted = [first_difference(ref["md5"], r["md5"]) for r in runs[1:]]
    variants = {**{f"threads={n}": _run(args, {"POSENC_THREADS": str(n)}) for n in args.threads},
                **{f"isa={i}": _run(args, {"ONEDNN_MAX_CPU_ISA": i}) for i in args.isa}}
    result = {"cpu": cpu_name(), "model": f"{args.task}/{args.pe}/s{args.seed}", "steps": args.steps,
              "runs": args.runs, "identical_runs": sum(p is None for p in parted) + 1,
              "first_parting_step": [p for p in parted if p is not None],
              "variants": {k: first_difference(ref["loss"], r["loss"]) for k, r in variants.items()}}
    if args.against:  # logged steps: where the recorded run leaves the reruns, and where it leaves each variant
        recorded = read_tsv(Path(args.against).expanduser())
        result["against"] = {"path": args.against,
                             "first_differing_logged_step": first_difference(ref["loss"], recorded),
                             "variants": {k: first_difference(r["loss"], recorded) for k, r in variants.items()}}
    io.write_json(OUT, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
