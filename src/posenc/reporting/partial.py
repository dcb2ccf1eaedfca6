"""A study that has not finished: tables and tested claims from the per-model metrics that exist.

`make study` writes study/ only once every stage has run (one dvc.lock, one REPORT.md). Parts of the
study run elsewhere before that (for example on a lent GPU: study/gpu/) leave per-model metrics
(metrics/train/*.json, metrics/eval/*.json) and the params they ran with. This module summarises them:
per task and PE, the mean over seeds with the 95 % t interval (stats.t_interval) at every evaluation
length, the RoPE evaluation variants, learning speed, the two bars of issues 15 and 16, the IMDb classifiers'
accuracy per length with its change from the training length, and the report's
paired, Holm-corrected claims (claims.py) among the PEs that have every seed. What is missing is listed,
never filled in.

    python -m posenc.reporting.partial study/gpu        # -> study/gpu/SUMMARY.md
    python -m posenc.reporting.partial study/cpu --from ~/.cache/posenc-study
        # first copies the finished models' metrics of a `make study` workspace (run in pieces) into study/cpu
    python -m posenc.reporting.partial study/cpu_imdb --from /tmp/ws --only imdb   # only the IMDb classifiers
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from posenc import config, io
from posenc.artifacts import IMDB, model_name
from posenc.errors import PosencError
from posenc.reporting import stats
from posenc.reporting.claims import ALPHA, comparisons, sentence
from posenc.reporting.formats_text import part_formats
from posenc.reporting.part_files import collect, tracks
from posenc.reporting.recipes import differences
from posenc.reporting.results import key, parent_pe, rows_of
from posenc.reporting.slips import slip_lines
from posenc.reporting.sweep import part_rows, part_section, part_sweep, same_model
from posenc.reporting.verdicts import course_lines, shorter_dip

SOLVED_EXACT = 0.9  # issue 15's bar: exact match at the training length, mean over seeds
FAR_EXACT = 0.95  # issue 16's bar: copy exact match at 4x the training length


def load(folder: Path) -> tuple[config.Config, dict, dict]:
    """(config of the run, evals {(task, name, seed): lengths}, trains {(task, pe, seed): summary}) of the
    synthetic models; an evaluation variant (rope's pi/ntk/yarn) is its own name, `<pe>_<variant>`."""
    cfg = config.load(folder / "params.yaml")
    evals, trains = {}, {}
    for f in sorted((folder / "metrics/eval").glob("*.json")):
        if f.name.startswith(f"{IMDB}_"):
            continue
        e = json.loads(f.read_text())
        if "lr" in e:  # a model of the learning-rate sweep (stage evaluate_lr): reporting/sweep.py reads it
            continue
        task, pe, seed = e["task"], e["pe"], e["seed"]
        evals[(task, pe, seed)] = e["lengths"]
        for v, lengths in e.get("variants", {}).items():
            evals[(task, f"{pe}_{v}", seed)] = lengths
        trains[(task, pe, seed)] = io.read_json(folder / "metrics/train" / f"{model_name(task, pe, seed)}.json")["summary"]
    return cfg, evals, trains


def cells(cfg: config.Config, evals: dict) -> dict:
    """{task: {name: {"seeds": [...], "per_seed": {acc_L/exact_L: [...]}, "shorter": {L: [exact, ...]}}}} for
    every name with >= 1 seed, at the run's evaluation and far lengths ("shorter": the curve lengths below the
    training length, exact match per seed, for only_at_the_longest)."""
    lengths = [*cfg.synthetic.eval_lengths, *cfg.synthetic.far_lengths]
    shorter = sorted(L for L in cfg.synthetic.curve_lengths if L < cfg.synthetic.train_max_len)
    out: dict = defaultdict(dict)
    for task in cfg.synthetic.tasks:
        names = sorted({n for (t, n, _) in evals if t == task}, key=lambda n: (_order(cfg, n), n))
        for name in names:
            seeds = [s for s in cfg.seeds if (task, name, s) in evals]
            per = {key(m, L): [evals[(task, name, s)][str(L)][f] for s in seeds]
                   for L in lengths for m, f in (("acc", "token_acc"), ("exact", "exact_match"))}
            short = {L: [evals[(task, name, s)][str(L)]["exact_match"] for s in seeds] for L in shorter
                     if all(str(L) in evals[(task, name, s)] for s in seeds)}  # lengths it trained on too
            out[task][name] = {"seeds": seeds, "per_seed": per, "shorter": short}
    return dict(out)


def _order(cfg: config.Config, name: str) -> int:
    parent = next((pe for pe in sorted(cfg.pes, key=len, reverse=True) if name == pe or name.startswith(pe + "_")),
                  None)
    return cfg.pes.index(parent) if parent else len(cfg.pes)


def cell(values: list[float], bounds: tuple[float, float] | None = stats.SHARE, n: int = 0) -> str:
    """Mean [95 % t over seeds] in %; a share's interval is clipped to [0, 100] (bounds=None: a difference), and
    one of n items a seed (an exact match: n sequences) that has collapsed to a point is the pooled Wilson interval
    (stats.share_interval)."""
    mean = 100 * float(np.mean(values))
    lo, hi = stats.t_interval(values, bounds)
    if n and len(values) >= 2:
        lo, hi = stats.share_interval([lo, hi], float(np.sum(values)) * n, len(values) * n)
    return f"{mean:.1f}" + (f" [{100 * lo:.1f}, {100 * hi:.1f}]" if len(values) >= 2 and np.isfinite(lo) else "")


def table(cfg: config.Config, rows: dict, metric: str) -> list[str]:
    lengths = [*cfg.synthetic.eval_lengths, *cfg.synthetic.far_lengths]
    what = {"exact": "exact match", "acc": "token accuracy"}[metric]
    n = cfg.synthetic.eval_size if metric == "exact" else 0  # sequences a seed, at every length
    out = ["| PE | seeds | " + " | ".join(f"{what} @{L} (%)" for L in lengths) + " |",
           "|---|---|" + "---|" * len(lengths)]
    for name, row in rows.items():
        out.append(f"| {name} | {len(row['seeds'])} | "
                   + " | ".join(cell(row["per_seed"][key(metric, L)], n=n) for L in lengths) + " |")
    return out


def _best(mean: dict[str, float]) -> str:
    """'best rope at 91.0 %', or that every one is at zero (no first place to name)."""
    top = max(mean.values())
    if top > 0:
        return f"best {max(mean, key=mean.get)} at {100 * top:.1f} %"
    return f"every one of {len(mean)} at 0.0 %" if len(mean) > 1 else f"the only one, {next(iter(mean))}, at 0.0 %"


def lookup3(metrics: Path, task: str, part: Path | None = None) -> dict:
    """The 3-token content rule's scores per length from `metrics`/baselines (the default's), else from the
    part's own (`part`/metrics/baselines: a task the default does not have), or {}."""
    found = [f for f in (metrics / "baselines" / f"{task}.json",
                         *([part / "metrics/baselines" / f"{task}.json"] if part else [])) if f.exists()]
    return io.read_json(found[0])["rules"]["lookup3"] if found else {}


def bars(cfg: config.Config, task: str, rows: dict, baselines: dict) -> list[str]:
    """Issue 15 (exact match >= 0.9 at the training length) and issue 16 (copy exact match >= 0.95 at 4x)."""
    T, out = cfg.synthetic.train_max_len, []
    mean = {n: float(np.mean(r["per_seed"][key("exact", T)])) for n, r in rows.items() if n in cfg.pes}
    solved = [n for n, m in mean.items() if m >= SOLVED_EXACT]
    out.append(f"- {task}, solved at {T} (mean exact match >= {SOLVED_EXACT:.0%}): "
               + (", ".join(solved) if solved else "no PE") + "; " + _best(mean) + ".")
    out += only_at_the_longest(cfg, task, {n: rows[n] for n in solved})
    far = 4 * T
    if key("exact", far) in next(iter(rows.values()))["per_seed"]:
        m4 = {n: float(np.mean(r["per_seed"][key("exact", far)])) for n, r in rows.items()}
        reach = [n for n, m in m4.items() if m >= FAR_EXACT and len(rows[n]["seeds"]) >= stats.MIN_SEEDS]
        base = baselines.get(str(far), {}).get("exact_match")
        who = f"{', '.join(reach)} reach{'es' * (len(reach) == 1)}" if reach else "no PE or variant reaches"
        out.append(f"- {task} at {far} (4x): {who} {FAR_EXACT:.0%} exact match over {stats.MIN_SEEDS} seeds; "
                   + _best(m4) + (f", against {100 * base:.1f} % for copying by the last 3 tokens without positions."
                                  if base is not None else "."))
    return out


def only_at_the_longest(cfg: config.Config, task: str, solved: dict) -> list[str]:
    """The PEs solved at the training length whose mean exact match is under the bar at a shorter length that
    training also drew (synthetic.curve_lengths below it), and lower there than at the training length beyond
    noise (verdicts.shorter_dip: a paired t-test over seeds, with one seed the two-proportion z, Bonferroni over
    the shorter lengths): they learned that length, not the task."""
    T = cfg.synthetic.train_max_len
    dips = {n: shorter_dip(r["per_seed"][key("exact", T)], r.get("shorter", {}), cfg.synthetic.eval_size, SOLVED_EXACT)
            for n, r in solved.items()}
    low = {n: d for n, d in dips.items() if d}
    if not low:
        return []
    share = cfg.train.long_share
    return [f"- {task}, solved at {T} but not at a shorter length it trained on (mean exact match under "
            f"{SOLVED_EXACT:.0%} there and lower than at {T} beyond noise; the lowest such): "
            + ", ".join(f"{n} {100 * m:.1f} % at {L}" for n, (L, m) in low.items())
            + ". Such a model learned the length, not the task" + (
                f" (train.long_share: {share:g} of the steps after the curriculum are at the longest length)"
                if share > 0 else "") + "."]


def beside_default(cfg: config.Config, task: str, rows: dict, metrics: Path) -> list[str]:
    """The default's seed-0 models (`metrics`/eval: this checkout's committed run, with its own device and
    precision) beside this part's: is the default's number inside this part's interval over seeds? Only
    where the two trained with the same recipe: otherwise they are other models, and a line says why not."""
    T, L = cfg.synthetic.train_max_len, max(cfg.synthetic.eval_lengths)
    rt = io.read_json(metrics / "runtime.json") if (metrics / "runtime.json").exists() else {}
    params = metrics.parent / "params.yaml"  # the default's PEs only: a file left from an older set is no model of it
    default = config.load(params) if params.exists() else cfg
    diff = differences(cfg, default, ("model", "train"))
    if diff and any((metrics / "eval" / f"{model_name(task, pe, cfg.seeds[0])}.json").exists() for pe in rows):
        return [f"The default's seed-{cfg.seeds[0]} models are not set beside this part's: they trained with "
                "another recipe (" + "; ".join(f"{s}.{k} {a} here, {b} in the default" for s, k, a, b in diff)
                + "), so they are other models.", ""]
    pes = [p for p in default.pes if not diff and (not params.exists() or same_model(cfg, params, p))]
    out, inside, n = [], 0, 0
    for pe in [p for p in cfg.pes if p in pes]:
        f, row = metrics / "eval" / f"{model_name(task, pe, cfg.seeds[0])}.json", rows.get(pe)
        if not f.exists() or row is None or len(row["seeds"]) < stats.MIN_SEEDS:
            continue
        mine = io.read_json(f)["lengths"]
        cols = []
        for m, field, length in (("exact", "exact_match", T), ("acc", "token_acc", L)):
            v, per = mine[str(length)][field], row["per_seed"][key(m, length)]
            lo, hi = stats.t_interval(per, stats.SHARE)
            inside, n = inside + (lo <= v <= hi), n + 1
            cols += [f"{100 * v:.1f}", f"{100 * per[0]:.1f}", cell(per)]
        out.append(f"| {pe} | " + " | ".join(cols) + " |")
    if not out:
        return []
    what = f"{rt.get('device_type', '?')}, {rt.get('dtype', '?')}"
    head = [f"The default's seed-{cfg.seeds[0]} models ({what}, `metrics/eval/`) beside this part's: "
            f"{inside} of {n} numbers fall inside this part's 95 % interval over seeds.", "",
            f"| PE | exact @{T}: default | this part, seed {cfg.seeds[0]} | this part, all seeds | token acc @{L}: "
            f"default | this part, seed {cfg.seeds[0]} | this part, all seeds |", "|---|---|---|---|---|---|---|"]
    return head + out + [""]


def load_imdb(folder: Path) -> dict:
    """{(pe, seed): lengths} of the IMDb classifiers' evaluations in `folder`."""
    out = {}
    for f in sorted((folder / "metrics/eval").glob(f"{IMDB}_*.json")):
        e = json.loads(f.read_text())
        out[(e["pe"], e["seed"])] = e["lengths"]
        for v, lengths in e.get("variants", {}).items():  # rope's pi/ntk/yarn: rows of their own
            out[(f"{e['pe']}_{v}", e["seed"])] = lengths
    return out


def imdb_rows(cfg: config.Config, evals: dict) -> dict:
    """{pe: {"seeds", "per_seed": {acc_L: [...]}, acc_L: mean}} of the IMDb test accuracy, in results.json's shape."""
    rows = {}
    for pe in [n for n in rows_of(cfg, evals, IMDB) if any(k[0] == n for k in evals)]:
        seeds = [s for s in cfg.seeds if (pe, s) in evals]
        per = {key("acc", L): [evals[(pe, s)][str(L)]["acc"] for s in seeds] for L in cfg.imdb.eval_lengths}
        rows[pe] = {"seeds": seeds, "per_seed": per, **{k: float(np.mean(v)) for k, v in per.items()}}
    return rows


def imdb_section(cfg: config.Config, evals: dict, metrics: Path) -> list[str]:
    """IMDb test accuracy per PE at every evaluation length (mean [95 % t] over seeds), its change from the
    training length to the longest per seed, the default's seed-0 number beside it, and the claims among PEs."""
    if not evals:
        return []
    lengths, T = list(cfg.imdb.eval_lengths), cfg.imdb.train_max_len
    far, rows = max(lengths), imdb_rows(cfg, evals)
    n_reviews = sorted({v[str(T)]["n"] for v in evals.values()})
    lines = [f"## IMDb ({'/'.join(map(str, n_reviews))} test reviews, accuracy in %)", "",
             "| PE | seeds | " + " | ".join(f"@{L}" for L in lengths) + f" | @{far} - @{T} (points) | default, "
             f"seed {cfg.seeds[0]}, @{far} |", "|---|---|" + "---|" * (len(lengths) + 2)]
    tests = {pe: stats.paired_test(r["per_seed"][key("acc", far)], r["per_seed"][key("acc", T)])
             for pe, r in rows.items()}
    p_holm = dict(zip(tests, stats.holm([t["p"] for t in tests.values()])))
    moved = [f"{pe} ({100 * t['diff']:+.1f})" for pe, t in tests.items() if p_holm[pe] < ALPHA]
    for pe, row in rows.items():
        diff = [a - b for a, b in zip(row["per_seed"][key("acc", far)], row["per_seed"][key("acc", T)])]
        parent = parent_pe(pe, cfg.pes)  # a variant's numbers sit in its PE's file
        f = metrics / "eval" / f"{model_name(IMDB, parent, cfg.seeds[0])}.json"
        e = io.read_json(f) if f.exists() else {}
        scored = e.get("lengths") if pe == parent else e.get("variants", {}).get(pe[len(parent) + 1:])
        default = (scored or {}).get(str(far))
        mine = f"{100 * default['acc']:.1f}" if default else "-"
        lines.append(f"| {pe} | {len(row['seeds'])} | " + " | ".join(cell(row["per_seed"][key("acc", L)])
                                                               for L in lengths) + f" | {cell(diff, None)} | {mine} |")
    m = int(sum(np.isfinite(t["p"]) for t in tests.values()))  # a row with one seed has no test
    lines += ["", f"- Change from {T} to {far} tokens beyond noise (paired t-test over seeds, Holm over the {m} "
              f"row{'s' * (m != 1)} with two seeds or more, alpha {ALPHA}): " + (", ".join(moved) or "none") + "."]
    full = {pe: r for pe, r in rows.items() if r["seeds"] == list(cfg.seeds)}
    if len(full) >= 2:
        results = {"seeds": list(cfg.seeds), "tasks": {}, IMDB: full}
        lines.append(f"- Claims among the {len(full)} PEs and variants with all {len(cfg.seeds)} seeds: "
                     + sentence(results, comparisons(results, []), IMDB, "acc", far))
    return lines + [""]


def summary(folder: Path, metrics: Path) -> str:
    """SUMMARY.md of the part in `folder`; `metrics`: the default's committed metrics (baselines, evaluations)."""
    cfg, evals, trains = load(folder)
    runs = json.loads((folder / "runs.json").read_text()) if (folder / "runs.json").exists() else {}
    all_rows, courses = cells(cfg, evals), tracks(folder, list(cfg.seeds))
    T = cfg.synthetic.train_max_len
    lines = [f"# Study, part run so far: {folder}", "",
             "Generated by `python -m posenc.reporting.partial` from the per-model metrics in this folder "
             "(mean over seeds, [95 % t interval over seeds; an exact match's that is a single point, every seed "
             "alike: the Wilson interval of the pooled sequences]). Not the study's report: that comes from `make "
             "study` once every stage has run.", ""]
    if runs:
        lines += [f"- Device: {runs['device']}; code {runs['code']}.", ""]
    elif (folder / "metrics/runtime.json").exists():
        lines += [f"- Device: {device(folder)} (the workspace's metrics/runtime.json).", ""]
    imdb, sweep = load_imdb(folder), part_sweep(folder)
    lines += [coverage(cfg, trains, imdb, len(sweep)), ""]
    for task, rows in all_rows.items():
        lines += [f"## {task}", "", *bars(cfg, task, rows, lookup3(metrics, task, folder)), "", *table(cfg, rows, "exact"), "",
                  *table(cfg, rows, "acc"), "", *beside_default(cfg, task, rows, metrics)]
        speed = [f"{pe} " + "/".join(str(trains[(task, pe, s)]["first_step_exact"] or "never")
                                     for s in cfg.seeds if (task, pe, s) in trains)
                 for pe in cfg.pes if any((task, pe, s) in trains for s in cfg.seeds)]
        lines += [f"- First step with validation exact match >= {cfg.train.solved_exact} (per seed): "
                  + ", ".join(speed) + ".", *course_lines(task, courses.get(task, {}), cfg), ""]
        lines += slip_lines(evals, task, list(rows), list(cfg.seeds), [*cfg.synthetic.eval_lengths,
                            *cfg.synthetic.far_lengths], FAR_EXACT, 4 * T)
        full = {n: r for n, r in rows.items() if r["seeds"] == list(cfg.seeds)}
        results = {"seeds": list(cfg.seeds), "tasks": {task: full}}
        longer = [L for L in (*cfg.synthetic.eval_lengths, *cfg.synthetic.far_lengths) if L > T]
        if len(full) < 2:
            lines += [f"- Claims: {len(full)} PE or variant has all {len(cfg.seeds)} seeds, so nothing is compared.", ""]
            continue
        comps = comparisons(results, longer)
        lines += [f"Claims among the {len(full)} PEs and variants with all {len(cfg.seeds)} seeds:", ""]
        lines += [f"- {sentence(results, comps, task, m, L)}" for L in longer for m in ("exact", "acc")] + [""]
    where = sources(folder, metrics)
    lines += part_formats(cfg, all_rows, where[1:], cell) + imdb_section(cfg, imdb, metrics)
    lines += part_section(cfg, *part_rows(cfg, sweep, where)) + throughput(runs)
    return "\n".join(lines)


def device(folder: Path) -> str:
    """The device a part (or the default's metrics/..) ran on: its runs.json (device runs) or its runtime.json."""
    runs, runtime = folder / "runs.json", next((f for f in (folder / "metrics/runtime.json", folder / "runtime.json")
                                                if f.is_file()), None)
    if runs.is_file():
        return io.read_json(runs)["device"]
    if runtime:
        rt = io.read_json(runtime)
        return f"{rt['device_type']}, {rt['dtype']}"
    return "device not recorded"


def sources(folder: Path, metrics: Path) -> list[tuple[str, Path]]:
    """Where a part's sweep finds its shared-rate models, in this order: the part itself, the default's
    `metrics` (labelled with its device), then the other parts beside it (each labelled with its folder)."""
    others = sorted(p for p in folder.resolve().parent.iterdir()
                    if p != folder.resolve() and (p / "metrics/eval").is_dir())
    return [("this part", folder / "metrics"), (f"default ({device(metrics)})", metrics),
            *((f"{folder.parent.name}/{p.name} ({device(p).split(' (')[0]})", p / "metrics") for p in others)]


def coverage(cfg: config.Config, trains: dict, imdb: dict, n_sweep: int = 0) -> str:
    """Which of the study's models this part holds, the missing ones named (the first 12), and how many of
    the learning-rate sweep's."""
    n_models = len(cfg.pes) * len(cfg.seeds)
    if not trains:
        synthetic = "no synthetic models"
    else:
        missing = [(t, pe, s) for t in cfg.synthetic.tasks for pe in cfg.pes for s in cfg.seeds
                   if (t, pe, s) not in trains]
        synthetic = (f"{len(trains)} of {len(cfg.synthetic.tasks) * n_models} synthetic models; missing: "
                     + (", ".join(f"{t}/{pe}/s{s}" for t, pe, s in missing[:12])
                        + (f" and {len(missing) - 12} more" if len(missing) > 12 else "") if missing else "none"))
    trained = [k for k in imdb if k[0] in cfg.pes]  # not the evaluation variants of the same weights
    classifiers = f"{len(trained)} of {n_models} IMDb classifiers" if trained else "no IMDb classifiers"
    n_rates = len(cfg.pes) * len(cfg.lr_sweep)
    sweep = f"{n_sweep} of the learning-rate sweep's {n_rates} models" if n_sweep else ""
    return (f"- Trained and evaluated: {synthetic}; {classifiers}" + (f"; {sweep}" if sweep else "") + ". Probes"
            + ("" if sweep else ", the learning-rate sweep") + " and the figures are not part of this run.")


def throughput(runs: dict) -> list[str]:
    """Per run: workers sharing the device (under NVIDIA's MPS where the run says so), median job time (train +
    evaluate), jobs per minute, and the run's wall time; a job marked `alone` ran with nothing beside it."""
    if not runs:
        return []
    out = ["## Cost on this device", ""]
    for r in runs["runs"]:
        jobs = [j for j in r["jobs"] if not j.get("alone")]
        solo = [j for j in r["jobs"] if j.get("alone")]
        mps = " under MPS" if r.get("mps") else ""
        for label, js, n in (("alone", solo, 1), (f"{r['workers']} workers{mps}", jobs, r["workers"])):
            if js:
                t = float(np.median([j["train_s"] + j["eval_s"] for j in js]))
                wall = f"; the run: {len(r['jobs'])} jobs in {r['wall_s']:.0f} s" if "wall_s" in r and not solo else ""
                out.append(f"- {label}: {len(js)} jobs, median {t:.0f} s per job (train "
                           f"{np.median([j['train_s'] for j in js]):.0f} s), {60 * n / t:.1f} jobs per minute{wall}.")
    det = runs.get("determinism", {})
    if det:
        same = det["alone_md5"] == det["under_contention_md5"]
        out.append(f"- Determinism: the checkpoint trained alone and again beside 11 other trainings is "
                   f"{'byte-identical' if same else 'DIFFERENT'} (md5 {det['alone_md5']}).")
    return out + [""]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m posenc.reporting.partial", description=__doc__.split("\n")[0])
    ap.add_argument("folder", nargs="?", default="study/gpu", help="the part's folder (default study/gpu)")
    ap.add_argument("--from", dest="workspace", help="first copy the finished models' metrics of this workspace")
    ap.add_argument("--only", default="", help="with --from: only these models (for example imdb)")
    args = ap.parse_args(argv)
    folder = Path(args.folder)
    try:
        if args.workspace:
            workspace = Path(args.workspace).expanduser()
            print(f"{collect(workspace, folder, args.only)} models' metrics copied from {workspace} to {folder}")
        text = summary(folder, Path("metrics"))
    except (FileNotFoundError, PosencError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    io.write_text(folder / "SUMMARY.md", text + "\n")
    print(f"wrote {folder / 'SUMMARY.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
