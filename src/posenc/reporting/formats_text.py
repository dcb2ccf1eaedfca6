"""The report's comparison of a task's formats: teacher-forced (`copy`) beside the brief's (`copy_blank`)
or beside itself with a start token (`copy_start`).

In the brief's format the outputs are read at placeholder positions, so a model never sees the
previous target token and can find a_k only by its position; teacher-forced, it can also copy by
matching content (an induction head). With a start token (SEP in front) the first source token has a
token before it, like every other, which a content lookup needs (docs/study.md, "A start token closes the gap").
Where the study trains both, the report sets each PE's two exact matches side by side with their 95 %
intervals, and ranks the formats per PE only where the paired, Holm-corrected comparison of claims.py
separates them (claims.format_sentence). And how the training draws a task's lengths (length_draw).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from posenc import config, io
from posenc.artifacts import model_name
from posenc.reporting.claims import comparisons, format_sentence, plain_task
from posenc.reporting.results import key
from posenc.reporting.sweep import same_model

WHAT = {"_blank": "outputs read at placeholders, so only positions can find them",
        "_start": "a start token in front, so the first source token has a token before it"}


def described(task: str) -> str:
    """What a task's other format (claims.FORMATS) changes, in words; "" for a plain task."""
    return next((w for suffix, w in WHAT.items() if task.endswith(suffix)), "")


def format_lines(results: dict, comps: list[dict], base: str, blank: str, lengths: list[int],
                 cell: Callable[[dict, str], str]) -> list[str]:
    """Markdown lines: each PE's exact match in both formats (`blank`: any other format of `base`) at
    lengths[0] (the training length), written by `cell(row, key)` (the report's number with its interval),
    then the tested ordering sentences at every length of `lengths`."""
    T, tasks = lengths[0], results["tasks"]
    side = "; ".join(f"{pe} {cell(tasks[base][pe], key('exact', T))} vs "
                     f"{cell(tasks[blank][pe], key('exact', T))}"
                     for pe in tasks[base] if pe in tasks[blank])
    lines = [f"- **{base} and {blank}, the two formats** ({blank}: {described(blank)}), exact match at {T}, "
             f"{base} vs {blank}: {side}."]
    return lines + [f"- {format_sentence(results, comps, base, blank, m, L)}" for L in lengths for m in ("exact", "acc")]


def part_formats(cfg: config.Config, all_rows: dict, sources: list[tuple[str, Path]],
                 cell: Callable[..., str]) -> list[str]:
    """Each other format of a task (the brief's blank format, the start token) beside the teacher-forced one,
    per PE, at the evaluation lengths: the teacher-forced side from this part where it has the PE, else the
    seed-0 evaluation of the first of `sources` [(label, metrics folder)] (partial.sources: the default, then
    the other parts) whose params train that model the same way (sweep.same_model: a model of another recipe
    is another model); then, for the PEs with every seed in both, the paired, Holm-corrected test of the two
    formats. `cell(values, n=...)`: a study part's number with its interval (partial.cell)."""
    out, n = [], {"exact": cfg.synthetic.eval_size, "acc": 0}  # exact match: of n sequences a seed (partial.cell)
    for task in [t for t in all_rows if plain_task(t)]:
        base, rows = plain_task(task), all_rows[task]
        head = " | ".join(f"{m} @{L}: {base} / {task}" for L in cfg.synthetic.eval_lengths
                          for m in ("exact", "token acc"))
        lines = [f"| PE | {base} from | {head} |", "|---|---|" + "---|" * 2 * len(cfg.synthetic.eval_lengths)]
        for pe in [p for p in cfg.pes if p in rows]:
            theirs, where = all_rows.get(base, {}).get(pe), "this part"
            for label, metrics in sources if theirs is None else []:
                f = metrics / "eval" / f"{model_name(base, pe, cfg.seeds[0])}.json"
                if f.is_file() and same_model(cfg, metrics.parent / "params.yaml", pe):
                    e = io.read_json(f)["lengths"]
                    theirs = {"per_seed": {key(m, L): [e[str(L)][fld]] for L in cfg.synthetic.eval_lengths
                                           for m, fld in (("exact", "exact_match"), ("acc", "token_acc"))}}
                    where = f"{label}, seed {cfg.seeds[0]}"
                    break
            if theirs is None:
                continue
            cols = [f"{cell(theirs['per_seed'][key(m, L)], n=n[m])} / {cell(rows[pe]['per_seed'][key(m, L)], n=n[m])}"
                    for L in cfg.synthetic.eval_lengths for m in ("exact", "acc")]
            lines.append(f"| {pe} | {where} | " + " | ".join(cols) + " |")
        if len(lines) > 2:
            out += [f"## {base} and {task}: the two formats (%, mean over this part's seeds)", "", *lines, "",
                    *format_claims(cfg, all_rows, base, task)]
    return out


def format_claims(cfg: config.Config, all_rows: dict, base: str, task: str, at: list[int] | None = None) -> list[str]:
    """claims.format_sentence at every evaluation length (or those of `at`), over the PEs with every seed in both
    formats; the Holm correction runs over every length and metric."""
    full = {t: {pe: r for pe, r in all_rows.get(t, {}).items() if r["seeds"] == list(cfg.seeds)} for t in (base, task)}
    if not set(full[base]) & set(full[task]):
        return []
    results = {"seeds": list(cfg.seeds), "tasks": full}
    lengths = [*cfg.synthetic.eval_lengths, *cfg.synthetic.far_lengths]
    lengths = [L for L in lengths if all(key("exact", L) in r["per_seed"] for rows in full.values() for r in rows.values())]
    comps = comparisons(results, [], formats_at=tuple(lengths))
    return [f"- {format_sentence(results, comps, base, task, m, L)}" for L in lengths if at is None or L in at
            for m in ("exact", "acc")] + [""]


def length_draw(long_share: float) -> str:
    """How the training steps after the curriculum draw their length (train.long_share), in words."""
    if not long_share:
        return "n uniform"
    return (f"{long_share:.0%} of the steps at the longest length and the rest n uniform (the uniform draw alone "
            "starves an absolute PE's last positions: docs/recipe.md, 'Is it the length distribution?')")
