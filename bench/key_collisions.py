"""Do a content-matching model's errors grow with the number of keys? Per-key error rates from evaluations.

The arithmetic is reporting/slips.py's (key_rates, predicted_exact; the report gives it for the best
model of each part and task, with a seed interval): a model that copies by looking up content scores
every earlier position as a candidate key, and if each wrong key has a small, fixed chance of
outscoring the right one, the error per target divided by the keys its query sees stays constant across
lengths. This script gives it per model and per length, for any evaluation file or sweep run: the error
rate at repeated pairs (the 2-token rule is ambiguous there, a separate cause), the error rate elsewhere
("other"), the mean number of keys a target's query sees, other / keys, the per-key rate at which a
sequence of that length would be copied exactly 95 % of the time with no other error (issue 16's bar),
and each length's exact match predicted from the shortest length's rates alone. Nothing is trained.

    python bench/key_collisions.py study/cpu_bf16/metrics/eval/*_hard_alibi_s*.json \\
        study/gpu_long/metrics/eval/copy_{hard_alibi,fire}_s*.json --out bench/key_collisions.json
    python bench/key_collisions.py "bench/slip_budget.json#hard_alibi_steps12000_seed2_errors" --out ...   # a sweep run
"""

import argparse
import sys
from pathlib import Path

from posenc import io
from posenc.errors import DataError
from posenc.reporting import slips


def length_rates(e: dict) -> dict | None:
    """One evaluation length -> slips.key_rates (other_error, pair_error, pair_targets, keys, per_key) with
    its targets and the per-key rate at which 95 % of the sequences would be exact; None without pair
    records."""
    r = slips.key_rates(e)
    if r is None:
        return None
    return {"targets": e["n_seqs"] * e["targets"], **r,
            "per_key_for_95_exact": slips.needed_rate(0.95, e["targets"]) / r["keys"]}


def read(source: str) -> dict:
    """An evaluation file (metrics/eval/<task>_<pe>_s<seed>.json), or one run of a bench/pe_sweep.py output
    kept with --errors (`file.json#tag`), as {"task", "pe", "seed", "lengths": {L: evaluation}}."""
    path, _, tag = source.partition("#")
    d = io.read_json(Path(path))
    if not tag:
        return d
    run = d.get("runs", {}).get(tag)
    if run is None:
        raise DataError(f"{path}: no run {tag!r}")
    return {"task": run["task"], "pe": run["pe"], "seed": run["seed"], "lengths": run["eval"]}


def model_rates(source: str) -> dict:
    """One model -> {"task", "pe", "seed", "lengths": {L: length_rates, with "exact_match" and
    "predicted_exact" from the shortest length with records}}."""
    d = read(str(source))
    try:
        evals = {L: e for L, e in sorted(d["lengths"].items(), key=lambda kv: int(kv[0]))}
        lengths = {L: r for L, e in evals.items() if (r := length_rates(e)) is not None}
        base = next(iter(lengths.values()), None)
        for L, r in lengths.items():
            e = evals[L]
            r.update(exact_match=e["exact_match"], predicted_exact=slips.predicted_exact(base, r, e))
        return {"task": d["task"], "pe": d["pe"], "seed": d["seed"], "lengths": lengths}
    except (KeyError, TypeError) as err:
        raise DataError(f"{source}: not an evaluation with error records ({err})") from err


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("evals", nargs="+", help="evaluation files (metrics/eval/<task>_<pe>_s<seed>.json), or "
                    "bench/pe_sweep.py runs kept with --errors (file.json#tag)")
    ap.add_argument("--out", default="bench/key_collisions.json")
    args = ap.parse_args()
    models = {p: model_rates(p) for p in args.evals}
    io.write_json(args.out, {"models": models})
    for p, m in models.items():
        cells = ", ".join(f"@{L} {r['other_error'] * 100:.3f} % / {r['keys']:.0f} keys = "
                          f"{r['per_key'] * 1e6:.2f}e-6 (95 % exact: "
                          f"{r['per_key_for_95_exact'] * 1e6:.2f}e-6; exact {r['exact_match'] * 100:.1f} %, "
                          f"predicted {r['predicted_exact'] * 100:.1f})" for L, r in m["lengths"].items())
        print(f"{m['task']} {m['pe']} s{m['seed']} ({p}): other errors per target / keys: {cells}")


if __name__ == "__main__":
    try:
        main()
    except DataError as e:
        sys.exit(f"error: {e}")
