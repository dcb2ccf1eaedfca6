"""Aggregation of every evaluation into metrics/results.json (DESIGN section 7).

Kept apart from evaluate.py so that changing how results are assembled
re-runs only the cheap aggregate stage, never an evaluation.
"""

from __future__ import annotations

from posenc.config import Config


def aggregate(cfg: Config, evals: dict[tuple[str, str], dict], trains: dict[tuple[str, str], dict]) -> dict:
    """Build results.json. `evals[(task, pe)]` is evaluate_lm's output,
    `trains[(task, pe)]` the training summary.

    Top of the file keeps the seed's schema: synthetic[L][pe] = token accuracy
    of the headline task. Everything else sits beside it.
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
    return results
