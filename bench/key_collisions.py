"""Do a content-matching model's errors grow with the number of keys? Per-key error rates from evaluations.

A model that copies by looking up content (hard_alibi's global head, FIRE, ALiBi far from the query)
scores every earlier position as a candidate key. If each wrong key has a small, fixed chance of
outscoring the right one, the error per target grows in proportion to the number of keys the query
sees, so the error per target divided by the keys stays constant across lengths, and exact match
over n targets falls like exp(-c * sum of keys), faster than exponentially in n. This reads the error
records the evaluation keeps (`per_seq` `right`, `wrong_at_pairs`, `pairs`: analysis/errors.py) and
reports, per model and length: the error rate at repeated pairs (the 2-token rule is ambiguous there,
a separate cause), the error rate elsewhere ("other"), the mean number of keys a target's query sees
(a causal model: the query predicting the target at sequence position p sees p keys, itself
included; the targets are the last `targets` tokens), other / keys, and the per-key rate at which a
sequence of that length would be copied exactly 95 % of the time with no other error (issue 16's bar:
-ln 0.95 slips per sequence). It also predicts each length's exact match from the shortest length's
rates alone (predicted_exact): where the prediction holds, nothing but the number of keys and of
repeated pairs changed with the length. Nothing is trained or run.

    python bench/key_collisions.py study/cpu_bf16/metrics/eval/*_hard_alibi_s*.json \\
        study/gpu_long/metrics/eval/copy_{hard_alibi,fire}_s*.json --out bench/key_collisions.json
    python bench/key_collisions.py "bench/slip_budget.json#hard_alibi_steps12000_seed2_errors" --out ...   # a sweep run
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from posenc import io
from posenc.errors import DataError


BAR_SLIPS = -np.log(0.95)  # independent slips per sequence that leave 95 % of the sequences exact


def mean_keys(seq_len: int, targets: int) -> float:
    """Mean number of keys (itself included) over the queries that predict the last `targets` tokens."""
    first = seq_len - targets  # the query predicting the first target sits at position first - 1
    return first + (targets - 1) / 2


def length_rates(e: dict) -> dict | None:
    """One evaluation length -> its error rates, keys and per-key rate; None without pair records."""
    ps = e["per_seq"]
    if "wrong_at_pairs" not in ps:
        return None
    n_targets = e["n_seqs"] * e["targets"]
    wrong = n_targets - float(np.sum(ps["right"]))
    at_pairs, pairs = float(np.sum(ps["wrong_at_pairs"])), int(np.sum(ps["pairs"]))
    other = (wrong - at_pairs) / (n_targets - pairs)
    keys = mean_keys(e["seq_len"], e["targets"])
    return {"targets": n_targets, "pair_targets": pairs, "pair_error": at_pairs / pairs if pairs else None,
            "other_error": other, "mean_keys": keys, "other_error_per_key": other / keys,
            "per_key_for_95_exact": BAR_SLIPS / (e["targets"] * keys)}


def predicted_exact(base: dict, r: dict, n_seqs: int, targets: int) -> float:
    """Exact match at a length predicted from the rates measured at a shorter one (`base`): independent
    slips, other errors at base's per-key rate over this length's keys, repeated pairs at base's error
    rate over this length's pairs. Where it holds, nothing but the number of keys and pairs changed."""
    pair = (base["pair_error"] or 0.0) * r["pair_targets"] / n_seqs
    return float(np.exp(-(base["other_error_per_key"] * r["mean_keys"] * targets + pair)))


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
            r.update(exact_match=e["exact_match"], predicted_exact=predicted_exact(base, r, e["n_seqs"], e["targets"]))
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
        cells = ", ".join(f"@{L} {r['other_error'] * 100:.3f} % / {r['mean_keys']:.0f} keys = "
                          f"{r['other_error_per_key'] * 1e6:.2f}e-6 (95 % exact: "
                          f"{r['per_key_for_95_exact'] * 1e6:.2f}e-6; exact {r['exact_match'] * 100:.1f} %, "
                          f"predicted {r['predicted_exact'] * 100:.1f})" for L, r in m["lengths"].items())
        print(f"{m['task']} {m['pe']} s{m['seed']} ({p}): other errors per target / keys: {cells}")


if __name__ == "__main__":
    try:
        main()
    except DataError as e:
        sys.exit(f"error: {e}")
