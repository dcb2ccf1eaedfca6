"""The learning-rate sweep (issue 15): each PE on the headline task at the shared learning rate and at every
rate of `lr_sweep` (stages train_lr/evaluate_lr), first seed only, and the report's table of it."""

from __future__ import annotations

from posenc import io
from posenc.artifacts import Layout, sweep_name
from posenc.config import Config
from posenc.reporting.results import key, lm_metrics


def sweep_results(cfg: Config, layout: Layout) -> dict:
    """{pe: {"lr": [...ascending], "acc_<L>"/"exact_<L>": [...per lr], "best_lr", "shared_lr"}}; the shared
    rate's numbers are the main models' at the same (first) seed. The best rate has the highest exact match
    at the training length, ties broken by token accuracy at the longest length, then the lower rate."""
    task, seed, shared = cfg.synthetic.headline_task, cfg.seeds[0], cfg.train.lr
    T, Lmax = cfg.synthetic.train_max_len, max(cfg.synthetic.eval_lengths)
    out = {}
    for pe in cfg.pes:
        runs = {lr: io.read_json(layout.eval_json(task, sweep_name(pe, lr), seed))["lengths"] for lr in cfg.lr_sweep}
        runs[shared] = io.read_json(layout.eval_json(task, pe, seed))["lengths"]
        lrs = sorted(runs)
        row: dict = {"lr": lrs, "shared_lr": shared}
        for L in cfg.synthetic.eval_lengths:
            per = [lm_metrics(runs[lr][str(L)]) for lr in lrs]
            row[key("acc", L)], row[key("exact", L)] = [m["acc"] for m in per], [m["exact"] for m in per]
        score = {lr: (row[key("exact", T)][i], row[key("acc", Lmax)][i], -lr) for i, lr in enumerate(lrs)}
        row["best_lr"] = max(lrs, key=score.get)
        out[pe] = row
    return out


def sweep_section(cfg: Config, sweep: dict) -> str:
    """The report's table: per PE and rate, exact match at the training length and token accuracy / exact match
    at the longest length; one seed each, so it shows sensitivity, never a ranking."""
    T, Lmax = cfg.synthetic.train_max_len, max(cfg.synthetic.eval_lengths)
    head = ["PE", "learning rate", f"exact @{T}", f"token acc @{Lmax}", f"exact @{Lmax}"]
    lines = ["## Learning-rate sensitivity", "",
             f"Every PE on {cfg.synthetic.headline_task} at the shared rate and at each rate of `lr_sweep`, the "
             "rest of the recipe unchanged, one seed each (so this shows how much a PE's numbers move with its "
             f"learning rate, not a ranking). Best: the highest exact match at {T}. **bold** = the shared rate.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for pe, row in sweep.items():
        for i, lr in enumerate(row["lr"]):
            name = f"**{lr:g}**" if lr == row["shared_lr"] else f"{lr:g}"
            best = " (best)" if lr == row["best_lr"] else ""
            lines.append(f"| {pe} | {name}{best} | {100 * row[key('exact', T)][i]:.1f} % "
                         f"| {100 * row[key('acc', Lmax)][i]:.1f} % | {100 * row[key('exact', Lmax)][i]:.1f} % |")
    return "\n".join(lines)
