"""Does the precision move the results more than a training seed does? (issue 14, item 1)

Compares two runs of the same params.yaml that differ in precision: the work tree's per-model evaluations
(metrics/eval, say bf16 autocast on a CPU with native bf16) and those committed at a git revision (say
float32 on a CPU without it). The yardstick is the seed-to-seed spread of the same models in the study
(--seeds, a folder of <task>_<pe>_s<seed>.json evaluations with several seeds): for every task, PE and
evaluation length, the difference between the two precisions next to the standard deviation over seeds.
IMDb has no seeds in any committed run yet, so its differences are listed without a yardstick.
The same comparison serves two runs of one precision on two CPUs (the CPU's own bf16 kernels differ).

    python bench/precision.py --ref b9dc5d9      # -> bench/precision.json, and a markdown table on stdout
    python bench/precision.py --ref HEAD --seeds study/gpu_long/metrics/eval --out bench/cross_cpu.json
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stages"))

import _cli  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.errors import ConfigError  # noqa: E402

METRICS = ("token_acc", "exact_match")


def at_ref(ref: str, path: str) -> dict | None:
    """A committed JSON file at a git revision, or None where the revision does not hold it."""
    out = subprocess.run(["git", "show", f"{ref}:{path}"], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else None


def rows(ref: dict, new: dict, seeds: dict, lengths: list[str]) -> list[dict]:
    """One row per (model, length, metric) present in all three: {model: eval} x2, {model: [eval per seed]}."""
    out = []
    for name in sorted(set(ref) & set(new) & {k for k, v in seeds.items() if len(v) >= 2}):
        for L in lengths:
            for m in METRICS:
                a, b = ref[name]["lengths"][L][m] * 100, new[name]["lengths"][L][m] * 100
                s = [e["lengths"][L][m] * 100 for e in seeds[name]]
                out.append({"model": name, "length": int(L), "metric": m, "ref": a, "new": b, "diff": b - a,
                            "seeds": s, "seed_sd": statistics.stdev(s)})
    return out


def summary(table: list[dict]) -> dict:
    """Per metric: how many differences lie within one and two seed standard deviations, and their sizes."""
    out = {}
    for m in METRICS:
        sub = [r for r in table if r["metric"] == m]
        if sub:
            out[m] = {"cells": len(sub),
                      "within_1sd": sum(abs(r["diff"]) <= r["seed_sd"] for r in sub),
                      "within_2sd": sum(abs(r["diff"]) <= 2 * r["seed_sd"] for r in sub),
                      "median_abs_diff": statistics.median(abs(r["diff"]) for r in sub),
                      "median_seed_sd": statistics.median(r["seed_sd"] for r in sub),
                      "max_abs_diff": max(abs(r["diff"]) for r in sub),
                      "outside_2sd": [f"{r['model']}@{r['length']}" for r in sub if abs(r["diff"]) > 2 * r["seed_sd"]]}
    return out


def imdb_diffs(ref: dict, new: dict) -> list[dict]:
    """IMDb test accuracy per PE and truncation length in both runs (no seed spread to compare with)."""
    return [{"model": n, "length": int(L), "ref": ref[n]["lengths"][L]["acc"] * 100,
             "new": new[n]["lengths"][L]["acc"] * 100,
             "diff": (new[n]["lengths"][L]["acc"] - ref[n]["lengths"][L]["acc"]) * 100}
            for n in sorted(set(ref) & set(new)) for L in sorted(new[n]["lengths"], key=int)]


def markdown(table: list[dict], ref_label: str, new_label: str) -> str:
    lines = [f"| model | length | metric | {ref_label} | {new_label} | difference | seeds | seed SD |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['length']} | {r['metric']} | {r['ref']:.1f} | {r['new']:.1f} | {r['diff']:+.1f} | "
              f"{' / '.join(f'{s:.1f}' for s in r['seeds'])} | {r['seed_sd']:.1f} |" for r in table]
    return "\n".join(lines)


def label(runtime: dict, fallback: str) -> str:
    """A run's column heading: its precision, and the CPU flags that decided it where there were any."""
    flags = "+".join(runtime.get("native_bf16") or [])
    return f"{runtime['dtype']} ({flags})" if "dtype" in runtime and flags else runtime.get("dtype", fallback)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", required=True,
                    help="git revision whose committed metrics/eval is the other run (other precision or CPU)")
    ap.add_argument("--seeds", default="study/gpu/metrics/eval", help="evaluations of several seeds per model")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", default="bench/precision.json")
    args = ap.parse_args()
    cfg = config.load(args.params)
    names = [f"{t}_{pe}_s{cfg.seeds[0]}" for t in cfg.synthetic.tasks for pe in cfg.pes]
    new = {n: io.read_json(f"metrics/eval/{n}.json") for n in names if Path(f"metrics/eval/{n}.json").exists()}
    ref = {n: e for n in names if (e := at_ref(args.ref, f"metrics/eval/{n}.json")) is not None}
    if not ref:
        raise ConfigError(f"--ref {args.ref}: no metrics/eval/<model>.json of params.yaml's models at that revision")
    seeds = {n: [io.read_json(p) for p in sorted(Path(args.seeds).glob(f"{n.rsplit('_s', 1)[0]}_s*.json"))]
             for n in names}
    table = rows(ref, new, seeds, [str(L) for L in cfg.synthetic.eval_lengths])
    inames = [f"imdb_{pe}_s{cfg.seeds[0]}" for pe in cfg.pes]
    iref = {n: e for n in inames if (e := at_ref(args.ref, f"metrics/eval/{n}.json")) is not None}
    inew = {n: io.read_json(f"metrics/eval/{n}.json") for n in inames if Path(f"metrics/eval/{n}.json").exists()}
    ref_rt, new_rt = at_ref(args.ref, "metrics/runtime.json") or {}, io.read_json("metrics/runtime.json")
    out = {"ref": args.ref, "ref_runtime": ref_rt, "new_runtime": new_rt, "seeds_from": args.seeds,
           "summary": summary(table), "synthetic": table, "imdb": imdb_diffs(iref, inew)}
    io.write_json(args.out, out)
    print(markdown(table, label(ref_rt, args.ref), label(new_rt, "work tree")))
    for m, s in out["summary"].items():
        print(f"{m}: {s['within_1sd']}/{s['cells']} within one seed SD, {s['within_2sd']}/{s['cells']} within two; "
              f"median |difference| {s['median_abs_diff']:.2f} points, median seed SD {s['median_seed_sd']:.2f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    _cli.run(main)
