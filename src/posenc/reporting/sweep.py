"""The learning-rate sweep (issue 15): each PE on the headline task at the shared learning rate and at every
rate of `lr_sweep` (stages train_lr/evaluate_lr), first seed only: the report's table of it, and the same
table for a study part that ran the sweep on its own (reporting/partial.py), its shared-rate models taken
from wherever they exist."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from posenc import config, io
from posenc.artifacts import Layout, model_name, sweep_name
from posenc.config import Config
from posenc.reporting.results import key, lm_metrics
from posenc.reporting.stats import holm, sample_p

ALPHA = 0.05  # a better rate counts when its Holm-corrected p is below this


def best_rate(row: dict, T: int, Lmax: int) -> float:
    """The best rate of a row: the highest exact match at the training length, ties broken by token accuracy
    at the longest length, then the lower rate."""
    score = {lr: (row[key("exact", T)][i], row[key("acc", Lmax)][i], -lr) for i, lr in enumerate(row["lr"])}
    return max(row["lr"], key=score.get)


def _row(cfg: Config, runs: dict[float, dict], shared: float) -> dict:
    """{"lr": [...ascending], "acc_<L>"/"exact_<L>": [...per lr], "best_lr", "shared_lr"} of {lr: lengths}."""
    lrs = sorted(runs)
    row: dict = {"lr": lrs, "shared_lr": shared}
    for L in cfg.synthetic.eval_lengths:
        per = [lm_metrics(runs[lr][str(L)]) for lr in lrs]
        row[key("acc", L)], row[key("exact", L)] = [m["acc"] for m in per], [m["exact"] for m in per]
    row["best_lr"] = best_rate(row, cfg.synthetic.train_max_len, max(cfg.synthetic.eval_lengths))
    return row


def sweep_results(cfg: Config, layout: Layout) -> dict:
    """{pe: row (see _row)}; the shared rate's numbers are the main models' at the same (first) seed."""
    task, seed, shared = cfg.synthetic.headline_task, cfg.seeds[0], cfg.train.lr
    out = {}
    for pe in cfg.pes:
        runs = {lr: io.read_json(layout.eval_json(task, sweep_name(pe, lr), seed))["lengths"] for lr in cfg.lr_sweep}
        runs[shared] = io.read_json(layout.eval_json(task, pe, seed))["lengths"]
        out[pe] = _row(cfg, runs, shared)
    return out


def sweep_section(cfg: Config, sweep: dict) -> str:
    """The report's table: per PE and rate, exact match at the training length and token accuracy / exact match
    at the longest length; one seed each, so it shows sensitivity, never a ranking."""
    lines = ["## Learning-rate sensitivity", "",
             f"Every PE on {cfg.synthetic.headline_task} at the shared rate and at each rate of `lr_sweep`, the "
             "rest of the recipe unchanged, one seed each (so this shows how much a PE's numbers move with its "
             f"learning rate, not a ranking). Best: the highest exact match at {cfg.synthetic.train_max_len}. "
             "**bold** = the shared rate.", ""]
    return "\n".join(lines + _table(cfg, sweep, {}))


def _table(cfg: Config, sweep: dict, where: dict[str, str]) -> list[str]:
    T, Lmax = cfg.synthetic.train_max_len, max(cfg.synthetic.eval_lengths)
    head = ["PE", "learning rate", *(["shared rate from"] if where else []), f"exact @{T}", f"token acc @{Lmax}",
            f"exact @{Lmax}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for pe, row in sweep.items():
        for i, lr in enumerate(row["lr"]):
            name = f"**{lr:g}**" if lr == row["shared_lr"] else f"{lr:g}"
            best = " (best)" if lr == row["best_lr"] and len(row["lr"]) > 1 else ""
            src = ([where[pe] if lr == row["shared_lr"] else "this part"] if where else [])
            lines.append(f"| {pe} | {name}{best} | " + " | ".join(src) + (" | " if src else "")
                         + f"{100 * row[key('exact', T)][i]:.1f} % | {100 * row[key('acc', Lmax)][i]:.1f} % "
                         f"| {100 * row[key('exact', Lmax)][i]:.1f} % |")
    return lines


def part_sweep(folder: Path) -> dict:
    """{(pe, lr): lengths} of the sweep's models in a study part: stage evaluate_lr's files (those with an `lr`)."""
    out = {}
    for f in sorted((folder / "metrics/eval").glob("*.json")):
        e = io.read_json(f)
        if "lr" in e:
            out[(e["pe"], float(e["lr"]))] = e["lengths"]
    return out


DATA_ONLY = ("tasks", "far_lengths", "curve_lengths")  # synthetic keys that change no model of the headline task


def same_model(cfg: Config, params: Path, pe: str) -> bool:
    """Whether the params file beside a source trains `pe` exactly as `cfg` does: the same model, recipe, PE
    params and synthetic data (its task list and extra evaluation lengths aside)."""
    if not params.is_file():
        return False
    mine = json.loads(json.dumps(config.to_dict(cfg)))  # tuples -> lists, as in a YAML file
    theirs = yaml.safe_load(params.read_text())
    drop = lambda d: {k: v for k, v in d.items() if k not in DATA_ONLY}  # noqa: E731
    return (all(mine[k] == theirs.get(k) for k in ("model", "train", "seed"))
            and mine["pe"].get(pe) == theirs.get("pe", {}).get(pe)
            and drop(mine["synthetic"]) == drop(theirs.get("synthetic", {})))


def part_rows(cfg: Config, found: dict, sources: list[tuple[str, Path]]) -> tuple[dict, dict]:
    """({pe: row}, {pe: where its shared-rate model came from}) of a part's sweep (`found`, from part_sweep);
    the shared-rate model (seed 0 of the headline task) is taken from the first of `sources` [(label, metrics
    folder)] that has it and whose params.yaml (beside the metrics folder) trains it the same way; a PE none
    has is left without one."""
    task, seed, shared = cfg.synthetic.headline_task, cfg.seeds[0], cfg.train.lr
    rows, where = {}, {}
    for pe in [p for p in cfg.pes if any(k[0] == p for k in found)]:
        runs = {lr: lengths for (p, lr), lengths in found.items() if p == pe}
        for label, metrics in sources:
            f = metrics / "eval" / f"{model_name(task, pe, seed)}.json"
            if f.is_file() and same_model(cfg, metrics.parent / "params.yaml", pe):
                runs[shared], where[pe] = io.read_json(f)["lengths"], label
                break
        rows[pe] = _row(cfg, runs, shared)
    return rows, where


def rate_tests(cfg: Config, rows: dict, where: dict) -> dict[tuple[str, float], float]:
    """Holm-corrected p of every other rate against the shared one, at the training length, over every PE and
    rate of the sweep together: picking each PE's best of several rates is a search, so all of them count."""
    T, n = cfg.synthetic.train_max_len, cfg.synthetic.eval_size
    raw = {}
    for pe, row in rows.items():
        exact = dict(zip(row["lr"], row[key("exact", T)]))
        raw.update({(pe, lr): sample_p(v, exact[row["shared_lr"]], n) for lr, v in exact.items()
                    if pe in where and lr != row["shared_lr"]})
    return dict(zip(raw, holm(list(raw.values()))))


def part_verdict(cfg: Config, rows: dict, where: dict) -> list[str]:
    """Per PE, whether another rate did better than the shared one at the training length by more than the
    evaluation sample's noise (Holm over every rate tried), and whether it solved a PE (exact match >=
    solved_exact) that the shared rate left unsolved. One seed per rate: no ranking."""
    T, ex, n = cfg.synthetic.train_max_len, cfg.train.solved_exact, cfg.synthetic.eval_size
    p_holm = rate_tests(cfg, rows, where)
    same, moved, solved = [], [], []
    for pe, row in rows.items():
        if pe not in where:
            continue
        exact = dict(zip(row["lr"], row[key("exact", T)]))
        base, top = exact[row["shared_lr"]], exact[row["best_lr"]]
        if row["best_lr"] == row["shared_lr"] or top <= base or not p_holm[(pe, row["best_lr"])] < ALPHA:
            same.append(pe)
        else:
            moved.append(f"{pe} at {row['best_lr']:g} ({100 * top:.1f} % against {100 * base:.1f} %)")
        if top >= ex > base and pe not in same:
            solved.append(pe)
    missing = [pe for pe in rows if pe not in where]
    return [f"- Learning-rate sweep on {cfg.synthetic.headline_task}, seed {cfg.seeds[0]} (one seed per rate: "
            f"sensitivity, not a ranking): exact match at {T} is higher at another rate than at the shared "
            f"{cfg.train.lr:g}, by more than the noise of the {n} evaluation sequences (two-proportion z, Holm over "
            f"the {len(p_holm)} other-rate model{'s' * (len(p_holm) != 1)}, alpha {ALPHA}; seed-to-seed spread can "
            "still be larger), for " + (", ".join(moved) or "none") + "; not for "
            + (", ".join(same) or "none") + ("; no shared-rate model found for " + ", ".join(missing)
                                            if missing else "") + ".",
            f"- Solved at {T} (exact match >= {ex:.0%}) at another rate, beyond that noise, but not at the shared "
            "one: "
            + (", ".join(solved) or "none") + "."]


def part_section(cfg: Config, rows: dict, where: dict) -> list[str]:
    """SUMMARY.md's section on a part's sweep: the table, each shared-rate row's source named, and the verdict."""
    if not rows:
        return []
    return ["## Learning-rate sweep", "", *_table(cfg, rows, where), "", *part_verdict(cfg, rows, where), ""]
