"""The report's section on the study's parts: seed intervals and tested claims wherever they exist.

The default trains one seed, so its report ranks nothing by seed. The study configuration runs in parts
(on a lent GPU, or on a CPU a piece at a time), and each part committed under study/<part>/ holds its own
params.yaml, per-model metrics and device (reporting/partial.py writes its full SUMMARY.md). This section
puts the parts' verdicts into REPORT.md: per part, which models it holds, issue 15's and 16's bars per
task, the paired, Holm-corrected claims at four times the training length, and the IMDb classifiers'
accuracy over seeds. Every number is computed from the part's files, with the part's device named.
"""

from __future__ import annotations

from pathlib import Path

from posenc import config
from posenc.artifacts import IMDB
from posenc.reporting import paired, partial, slips, stats
from posenc.reporting.claims import comparisons, plain_task, sentence
from posenc.reporting.formats_text import format_claims
from posenc.reporting.part_files import tracks
from posenc.reporting.recipes import differences
from posenc.reporting.results import key
from posenc.reporting.sweep import part_rows, part_sweep, part_verdict
from posenc.reporting.verdicts import course_lines, reference_length


def folders(root: Path) -> list[Path]:
    """The parts under `root` (study/): sub-folders with a params.yaml and per-model evaluations, the one
    with the most models first."""
    if not root.is_dir():
        return []
    parts = [p for p in root.iterdir() if (p / "params.yaml").is_file() and (p / "metrics/eval").is_dir()]
    return sorted(parts, key=lambda p: (-len(list((p / "metrics/eval").glob("*.json"))), p.name))  # largest first


def synthetic_lines(folder: Path, metrics: Path) -> list[str]:
    """Bars and the claims at 4x the training length, per task of the part."""
    cfg, evals, _ = partial.load(folder)
    T, out = cfg.synthetic.train_max_len, []
    lengths = [*cfg.synthetic.eval_lengths, *cfg.synthetic.far_lengths]
    longer = [L for L in lengths if L > T]
    all_rows, courses = partial.cells(cfg, evals), tracks(folder, list(cfg.seeds))
    for task, rows in all_rows.items():
        out += partial.bars(cfg, task, rows, partial.lookup3(metrics, task, folder))
        out += course_lines(task, courses.get(task, {}), cfg)
        if slipped := slips.slip_rows(evals, task, list(rows), list(cfg.seeds), lengths, 4 * T):
            out.append(slips.verdict(task, slipped, partial.FAR_EXACT, 4 * T))
            best = slips.lowest(slipped, 4 * T)
            if line := slips.key_verdict(evals, task, best, list(cfg.seeds), T, partial.FAR_EXACT, 4 * T):
                out.append(line)
        full = {n: r for n, r in rows.items() if r["seeds"] == list(cfg.seeds)}
        if len(full) < 2 or len(cfg.seeds) < stats.MIN_SEEDS or 4 * T not in longer:
            out.append(f"- {task}: fewer than 2 PEs with {stats.MIN_SEEDS} seeds or more, so nothing is compared.")
            continue
        results = {"seeds": list(cfg.seeds), "tasks": {task: full}}
        comps = comparisons(results, longer)  # the family of SUMMARY.md: every length past training
        out += [f"- {sentence(results, comps, task, m, 4 * T)}" for m in ("exact", "acc")]
    for task in [t for t in all_rows if plain_task(t) in all_rows]:  # a task in two formats: the formats compared
        out += format_claims(cfg, all_rows, plain_task(task), task, at=[4 * T])[:-1]
    return out


def imdb_lines(folder: Path) -> list[str]:
    """The IMDb classifiers' accuracy at the longest length (mean [95 % t] over seeds) and the claims."""
    evals = partial.load_imdb(folder)
    if not evals:
        return []
    cfg = partial.load(folder)[0]
    far = max(cfg.imdb.eval_lengths)
    rows = partial.imdb_rows(cfg, evals)
    cells = ", ".join(f"{pe} {partial.cell(r['per_seed'][key('acc', far)])}" for pe, r in rows.items())
    out = [f"- IMDb, accuracy at {far} tokens (%, mean [95 % t] over seeds): {cells}."]
    full = {pe: r for pe, r in rows.items() if r["seeds"] == list(cfg.seeds)}
    if len(full) >= 2 and len(cfg.seeds) >= stats.MIN_SEEDS:
        results = {"seeds": list(cfg.seeds), "tasks": {}, IMDB: full}
        out.append(f"- {sentence(results, comparisons(results, []), IMDB, 'acc', far)}")
    return out + lean_lines(cfg, evals)


def lean_lines(cfg: config.Config, evals: dict) -> list[str]:
    """Where the IMDb classifiers' predictions that change with the longer input go (reporting/paired.py)."""
    T, far = reference_length(cfg.imdb.eval_lengths, cfg.imdb.train_max_len), max(cfg.imdb.eval_lengths)
    leans = paired.lean_tests(evals, T, far)
    if not leans:
        return []
    holm = next(iter(leans.values()))[0]["holm"]
    out = [f"- IMDb, the predictions that change between {T} and {far} tokens: the share going to "
           f"{paired.CLASS_NAMES[0]} (%, per seed; *: not half and half beyond noise, sign test, Holm over {holm} "
           f"models): {paired.lean_cells(leans)}."]
    ref = paired.positionless(cfg.pes, leans)
    return out + ([f"- {paired.reference_text(leans, ref, T, far)}"] if ref else [])


def drifted(cfg: config.Config, study: config.Config, sections: tuple[str, ...]) -> list[str]:
    """'<section>.<key> <part's value> (study/params.yaml now: <value>)' for every key of `sections` (the
    recipes the part's models used: model, train for the LMs, imdb for the classifiers) in which a part's
    params differ from study/params.yaml's now (a part trained before a recipe change is not the study's regime)."""
    return [f"{sec}.{k} {then} (study/params.yaml now: {now})" for sec, k, then, now in differences(cfg, study, sections)]


def recipe_drift(cfg: config.Config, study: config.Config, sections: tuple[str, ...],
                 configs: dict[str, config.Config] | None = None) -> str:
    """A line naming every key in which the part's recipe differs from study/params.yaml's now (drifted);
    empty when none differ. A part made with one of `configs` (the committed configurations of other regimes,
    e.g. study/gpu_12k/params.yaml: {path: config}) is named as that regime, not as a stale part."""
    diff = drifted(cfg, study, sections)
    if not diff:
        return ""
    same = [name for name, other in (configs or {}).items() if not drifted(cfg, other, sections)]
    if same:
        return (f"**Made with {same[0]}'s recipe, a regime of its own**: " + "; ".join(diff)
                + ". Its verdicts are of that recipe, not of the study's.")
    return ("**Made with other params than study/params.yaml's now**: " + "; ".join(diff)
            + ". Its verdicts are of that recipe; rerun the part to refresh them.")


def regimes(root: Path, parts: list[Path]) -> dict[str, config.Config]:
    """The committed configurations under `root` that are not parts (study/<name>/params.yaml without models)."""
    return {f"{root.name}/{p.name}/params.yaml": config.load(p / "params.yaml") for p in sorted(root.iterdir())
            if (p / "params.yaml").is_file() and p not in parts}


def section(root: Path, metrics: Path) -> str:
    """REPORT.md's section on the parts under `root`; empty when there are none."""
    parts = folders(root)
    if not parts:
        return ""
    lines = ["## With seeds: the study's parts", "",
             "The sections above come from the default's models, one seed each. The study configuration "
             "(study/params.yaml: three seeds, every PE, both formats, IMDb) runs in parts, each committed "
             "under study/ with its own params and device; each part's SUMMARY.md has the full tables. "
             "Its verdicts, computed from the parts' per-model metrics (mean over seeds, 95 % t intervals, "
             "paired t-tests over seeds with Holm's correction):", ""]
    study = config.load(root / "params.yaml") if (root / "params.yaml").is_file() else None
    others = regimes(root, parts)
    for folder in parts:
        cfg, _, trains = partial.load(folder)
        sweep = part_sweep(folder)
        imdb = partial.load_imdb(folder)
        used = ("model",) + (("train",) if trains or sweep else ()) + (("imdb",) if imdb else ())
        drift = recipe_drift(cfg, study, used, others) if study else ""
        rows, where = part_rows(cfg, sweep, partial.sources(folder, metrics))
        lines += [f"### {root.name}/{folder.name} ({partial.device(folder)})", "",
                  partial.coverage(cfg, trains, imdb, len(sweep)), "",
                  *([drift, ""] if drift else []),
                  *synthetic_lines(folder, metrics), *imdb_lines(folder),
                  *(part_verdict(cfg, rows, where) if rows else []), ""]
    return "\n".join(lines)
