"""Aggregation of every evaluation into metrics/results.json (DESIGN section 7).

Kept apart from evaluate.py so that changing how results are assembled
re-runs only the cheap aggregate stage, never an evaluation.
"""

from __future__ import annotations

from posenc.config import Config


def aggregate(cfg: Config, evals: dict[tuple[str, str], dict], trains: dict[tuple[str, str], dict],
              imdb_evals: dict[str, dict], imdb_trains: dict[str, dict], imdb_data: dict) -> dict:
    """Build results.json. `evals[(task, pe)]` is evaluate_lm's output,
    `trains[(task, pe)]` the training summary; `imdb_evals[pe]` is
    evaluate_classifier's output, `imdb_trains[pe]` its training summary and
    `imdb_data` prepare_imdb's summary.

    Top of the file keeps the seed's schema: synthetic[L][pe] = token accuracy
    of the headline task, imdb[pe] = {acc_L, f1_L, loss_L}. Everything else
    sits beside them.
    """
    s = cfg.synthetic
    results: dict = {"synthetic": {}}
    for L in s.eval_lengths:
        results["synthetic"][str(L)] = {pe: evals[(s.headline_task, pe)][str(L)]["token_acc"] for pe in cfg.pes}
    results["headline_task"] = s.headline_task
    results["tasks"] = {}
    for task in s.tasks:
        per_pe = {}
        for pe in cfg.pes:
            ev, tr = evals[(task, pe)], trains[(task, pe)]
            per_pe[pe] = {
                **{f"acc_{L}": ev[str(L)]["token_acc"] for L in s.eval_lengths},
                **{f"exact_{L}": ev[str(L)]["exact_match"] for L in s.eval_lengths},
                **{f"loss_{L}": ev[str(L)]["loss"] for L in s.eval_lengths},
                "train_steps": tr["steps"],
                "converged": tr["converged"],
            }
        results["tasks"][task] = per_pe
    results["curves"] = {
        task: {pe: {L: evals[(task, pe)][L]["token_acc"] for L in sorted(evals[(task, pe)], key=int)}
               for pe in cfg.pes}
        for task in s.tasks
    }
    results.update(imdb_results(cfg, imdb_evals, imdb_trains, imdb_data))
    return results


def imdb_results(cfg: Config, evals: dict[str, dict], trains: dict[str, dict], data: dict) -> dict:
    """imdb[pe] (flat, for `dvc metrics diff`), imdb_buckets[pe][L][bucket] and imdb_data."""
    lengths = [str(L) for L in cfg.imdb.eval_lengths]
    out: dict = {"imdb": {}, "imdb_buckets": {}}
    for pe in cfg.pes:
        ev, tr = evals[pe], trains[pe]
        out["imdb"][pe] = {
            **{f"{key}_{L}": ev[L][key] for key in ("acc", "f1", "loss") for L in lengths},
            "best_epoch": tr["best_epoch"],
            "train_steps": tr["steps"],
        }
        out["imdb_buckets"][pe] = {L: {name: {k: b[k] for k in ("acc", "f1", "loss", "n")}
                                       for name, b in ev[L]["buckets"].items()} for L in lengths}
    test = data["lengths"]["test"]
    out["imdb_data"] = {"vocab_size": data["vocab_size"],
                        **{f"{k}_reviews": data["lengths"][k]["n_reviews"] for k in ("train", "val", "test")},
                        "test_lengths": {k: v for k, v in test.items() if k.startswith(("p", "frac_", "buckets"))}}
    return out
