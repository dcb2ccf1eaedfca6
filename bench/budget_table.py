"""Issue 15's bar, PE by PE: the study's three seeds at the recipe's steps beside the 12,000-step bench runs.

Reads what is committed, trains nothing: each PE's exact match at 256 on copy and duplicate as the mean
[95 % t interval over seeds] of a study part (`study/gpu_long/` by default; `hard_alibi_ngram` from
`study/cpu_ngram/`, where it was trained), and the seed-0 runs of `bench/pe_sweep.py` with
`train.max_steps=12000` (tags `<pe>_<task>_steps12000[_inside]`, `nope_steps12000`,
`hard_alibi_steps12000[_seed1|_seed2]`) with the lowest exact match at the shorter lengths the run also
scored, followed by the seeds of the 12,000-step parts trained by the study's own stages
(`STUDY_PARAMS=study/gpu_12k/params.yaml`: `study/cpu_12k/` on EPYCs, `study/cpu_12k_xeon/` on an Intel
Xeon) where they hold the model. Prints the markdown table of docs/study.md, "Issue 15's bar, PE by PE".

    python bench/budget_table.py
"""

import argparse
import json
import re
from pathlib import Path

from posenc import config
from posenc.reporting.partial import cell

ROOT = Path(__file__).resolve().parent.parent
PES = ["sinusoidal", "learned", "rope", "alibi", "nope", "t5", "hard_alibi", "fire", "rope_rand",
       "sinusoidal_rand", "hard_alibi_ngram"]
PARTS = {"hard_alibi_ngram": "study/cpu_ngram"}
# the study's stages with study/gpu_12k/params.yaml, run on CPUs: one part per CPU kind, with its cells' label
STUDY_PARAMS = ROOT / "study" / "params.yaml"  # the recipe and evaluation sets of the bench's runs
LONG_PARTS = {"study/cpu_12k": "study", "study/cpu_12k_xeon": "study Xeon"}
BENCH = ["bench/budget_absolute.json", "bench/budget_rand.json", "bench/nope_budget.json",
         "bench/slip_budget.json"]


def study_values(part: Path, task: str, pe: str) -> tuple[list[float], int]:
    """Exact match at 256 of each of the part's seeds (none without files), and the sequences each scored."""
    files = sorted((part / "metrics" / "eval").glob(f"{task}_{pe}_s[0-9]*.json"))
    at = [json.loads(f.read_text())["lengths"]["256"] for f in files]
    return [a["exact_match"] for a in at], (at[0]["n_seqs"] if at else 0)


def study_cell(part: Path, task: str, pe: str) -> str:
    """Mean [95 % t interval] of exact match at 256 over the part's seeds, in % (partial.cell, as the parts'
    summaries give it); 'not run' without files."""
    values, n = study_values(part, task, pe)
    return cell(values, n=n) if values else "not run"


def long_cell(runs: list, parts: dict, task: str, pe: str) -> str:
    """The bench's 12,000-step runs, then the seeds of each 12,000-step study part ({folder: label}) that
    holds the model."""
    texts = [bench_cell(runs)] if runs else []
    for part, label in parts.items():
        values, n = study_values(part, task, pe)
        if values:
            texts.append(f"{label}, {len(values)} seed{'s' * (len(values) > 1)} {cell(values, n=n)}")
    return "; ".join(texts) or bench_cell(runs)  # neither: "not measured"


def bench_runs() -> dict:
    """{(pe, task): [run, ...]} of every 12,000-step run in the bench files, seed 0 first."""
    found: dict = {}
    for name in BENCH:
        runs = json.loads((ROOT / name).read_text())["runs"]
        for tag, run in runs.items():
            if run.get("set", {}).get("train.max_steps") != 12000 or tag.endswith("_errors"):
                continue
            found.setdefault((run["pe"], run["task"]), []).append(run)
    for runs in found.values():
        runs.sort(key=lambda r: (r["seed"], "shorter" not in r))
    return found


def bench_cell(runs: list) -> str:
    """Seed 0's exact match at 256 (with the lowest at the shorter lengths it scored), and the mean of
    the other seeds where there are several; 'not measured' without a run."""
    if not runs:
        return "not measured"
    seed0 = [r for r in runs if r["seed"] == 0][0]
    text = f"{100 * seed0['eval']['256']['exact_match']:.1f}"
    shorter = seed0.get("shorter")
    text += f" ({min(100 * v['exact_match'] for v in shorter.values()):.1f})" if shorter else " (n/m)"
    seeds = {r["seed"]: r for r in runs}
    if len(seeds) > 1:  # the bench scores the study's evaluation sets: eval_size sequences a length
        n = config.load(STUDY_PARAMS).synthetic.eval_size
        text += f"; {len(seeds)} seeds " + cell([r["eval"]["256"]["exact_match"] for r in seeds.values()], n=n)
    return text


def table(part: str) -> str:
    runs = bench_runs()
    lines = ["| PE | copy, 4,000 steps | copy, 12,000 (lowest @64-192) | duplicate, 4,000 steps "
             "| duplicate, 12,000 (lowest @64-192) |", "|---|---|---|---|---|"]
    long_parts = {ROOT / name: label for name, label in LONG_PARTS.items()}
    for pe in PES:
        where = ROOT / PARTS.get(pe, part)
        cells = []
        for task in ("copy", "duplicate"):
            cells += [study_cell(where, task, pe), long_cell(runs.get((pe, task), []), long_parts, task, pe)]
        lines.append(f"| {pe} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", default="study/gpu_long", help="the study part for the recipe's columns")
    args = ap.parse_args()
    if not re.fullmatch(r"study/[a-z0-9_]+", args.part) or not (ROOT / args.part).is_dir():
        ap.error(f"--part: no study part folder {args.part}")
    print(table(args.part))


if __name__ == "__main__":
    main()
