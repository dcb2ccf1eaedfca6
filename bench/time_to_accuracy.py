"""Time to accuracy (issue 14), the measure MLPerf uses for training: the wall time a recipe needs before
the learned PE (the slowest learner) reaches a fixed exact match on copy at the training length.

The target is what round 1's recipe (d=128, 3 layers, 4 heads, float32, batch 64, lr 3e-3, 3,000 steps on
the full warmup + cosine schedule, no early stop) reaches at its end; round 1's time is its whole run.
The current default (params.yaml's model, train and runtime sections) then trains on the same data, and
its time is the wall time of its first validation check at or above that target. Both runs go through
the pipeline's own training loop (engine/lm.train_lm) with its validation checks (256 sequences at the
training length every train.check_every steps), one after the other in this process: run it on an
otherwise idle machine. Writes bench/time_to_accuracy.json (committed) with the CPU named.

    python bench/time_to_accuracy.py                  # both, about 30 minutes on a 2-core CPU (measured)
    python bench/time_to_accuracy.py --keep round1    # reuse round 1's run from the existing file
    python bench/time_to_accuracy.py --candidate train.max_steps=12000   # + that candidate: 48 minutes here
    python bench/time_to_accuracy.py --candidate runtime.dtype=float32 train.long_share=0.0   # + that one

A candidate is the default with some keys changed (section.key=value): it measures what a lever would
buy, without changing params.yaml. Round 1 drew every training length uniformly (train.long_share 0).
"""

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stages"))

import _cli  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.engine.lm import train_lm  # noqa: E402
from posenc.engine.runtime import BF16_FLAGS, cpu_flags, resolve  # noqa: E402
from posenc.errors import ConfigError  # noqa: E402

PE, TASK = "learned", "copy"
ROUND1 = {  # round 1's recipe, as issue 14 states it (its stop rule removed: the full schedule)
    "model": {"n_layers": 3, "d_model": 128, "n_heads": 4, "ffn_mult": 4},
    "train": {"lr": 3.0e-3, "batch_size": 64, "max_steps": 3000, "curriculum_start_len": 16,
              "curriculum_steps": 400, "long_share": 0.0, "warmup_frac": 0.1},
    "runtime": {"dtype": "float32"},
}


def recipe(base: config.Config, name: str, candidate: dict | None = None) -> config.Config:
    """round1, default, or candidate (the default with `candidate` = {section: {key: value}} changed)."""
    d = config.to_dict(base)
    for section, values in {"round1": ROUND1, "candidate": candidate or {}}.get(name, {}).items():
        d[section] = {**d[section], **values}
    d["train"]["resume_every"] = 0
    return config.from_dict(d)


def overrides(items: list[str], base: config.Config) -> dict:
    """["train.max_steps=12000", ...] -> {"train": {"max_steps": 12000}}; values are YAML, checked by the
    config loader when the candidate is built (a wrong type is its one-line error naming the key)."""
    d, out = config.to_dict(base), {}
    for item in items:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        if not value or not isinstance(d.get(section), dict) or name not in d[section]:
            raise ConfigError(f"--candidate {item!r}: expected section.key=value for a key of params.yaml")
        out.setdefault(section, {})[name] = yaml.safe_load(value)
    recipe(base, "candidate", out)  # fails here, before any training, if a value is wrong
    return out


def timed_checks(rows: list[dict], t0: float):
    """An on_log for engine/lm.train_lm that appends each validation check to `rows` with the wall time
    since t0 (perf_counter) and prints it."""

    def on_log(step, values):
        if "val/exact" in values:
            rows.append({"step": step, "wall_s": round(time.perf_counter() - t0, 2),
                         "val_acc": values["val/acc"], "val_exact": values["val/exact"]})
            print(f"  step {step:>5}  {rows[-1]['wall_s']:8.1f} s  val acc {values['val/acc']:.4f}  "
                  f"exact {values['val/exact']:.3f}", flush=True)

    return on_log


def run(cfg: config.Config, splits: dict) -> dict:
    """Train once; every validation check with the wall time since the start of training."""
    rows = []
    on_log = timed_checks(rows, time.perf_counter())
    out = train_lm(cfg, PE, TASK, splits, cfg.seeds[0], progress=False, on_log=on_log, rt=resolve(cfg.runtime.dtype))
    t, m = out["timing"], cfg.model
    return {"long_share": cfg.train.long_share, "shape": {"d_model": m.d_model, "n_layers": m.n_layers, "n_heads": m.n_heads},
            "train": config.to_dict(cfg)["train"], "dtype": out["summary"]["dtype"],
            "wall_s": t["wall_s"], "tokens": out["summary"]["train_tokens"], "tokens_per_s": t["tokens_per_s"],
            "checks": rows}


def reached(result: dict, target: float) -> dict | None:
    return next((r for r in result["checks"] if r["val_exact"] >= target), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", default="bench/time_to_accuracy.json")
    ap.add_argument("--keep", choices=["round1", "default"], help="reuse this recipe's run from --out")
    ap.add_argument("--candidate", nargs="+", default=[], metavar="SECTION.KEY=VALUE",
                    help="also train the default with these keys changed (a lever's price)")
    args = ap.parse_args()
    base = config.load(args.params)
    candidate = overrides(args.candidate, base)
    old = io.read_json(args.out) if args.keep and Path(args.out).exists() else {}
    splits = synthetic.load(synthetic_data(base), TASK, base.synthetic.vocab_size)
    runs = {}
    for name in ("round1", "default") + (("candidate",) if candidate else ()):
        if name == args.keep and name in old.get("runs", {}):
            runs[name] = old["runs"][name]
            continue
        print(f"{name}: training {TASK}/{PE}", flush=True)
        runs[name] = run(recipe(base, name, candidate), splits)
    target = runs["round1"]["checks"][-1]["val_exact"]
    out = {"cpu_model": cpu_model(), "threads": torch.get_num_threads(),
           "native_bf16": sorted(set(BF16_FLAGS) & cpu_flags()),
           "torch": torch.__version__, "task": TASK, "pe": PE, "target_exact": target,
           "round1_wall_s": runs["round1"]["wall_s"], "candidate": candidate,
           **verdicts(runs, target)}
    io.write_json(args.out, {**out, "runs": runs})
    said = [f"{name} " + (f"{out[name + '_wall_to_target_s']:.0f} s ({out[name + '_ratio']:.2f} x round 1)"
                          if out[name + "_ratio"] is not None else "never within its budget")
            for name in runs if name != "round1"]
    print(f"target exact {target:.3f}: round 1 {out['round1_wall_s']:.0f} s, {', '.join(said)}; {out['cpu_model']}")


def verdicts(runs: dict, target: float) -> dict:
    """<name>_wall_to_target_s and <name>_ratio (to round 1's whole run) for every run but round 1."""
    out = {}
    for name in (n for n in runs if n != "round1"):
        hit = reached(runs[name], target)
        out[f"{name}_wall_to_target_s"] = hit["wall_s"] if hit else None
        out[f"{name}_ratio"] = round(hit["wall_s"] / runs["round1"]["wall_s"], 3) if hit else None
    return out


def synthetic_data(cfg: config.Config) -> Path:
    """The copy data generated from params (deterministic in `seed`), outside the work tree."""
    path = Path(tempfile.gettempdir()) / "posenc_tta" / f"{TASK}.npz"
    path.parent.mkdir(exist_ok=True)
    io.save_npz(path, synthetic.generate(cfg.synthetic, TASK, cfg.seed))
    return path


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


if __name__ == "__main__":
    _cli.run(main)
