"""Which PE beats which: every comparison the report makes, tested and Holm-corrected together.

The report may write "A > B" only when (1) there are at least stats.MIN_SEEDS seeds, and (2) a
paired t-test across seeds of A's and B's per-seed values, after a Holm correction over every
comparison in `comparisons()`, has p < ALPHA. Otherwise it writes that the difference is within
noise (or, with fewer seeds, that it ranks nothing). A test (tests/test_claims.py) checks every
ordering sentence of REPORT.md against these comparisons.
"""

from __future__ import annotations

from itertools import combinations

from posenc.reporting import stats
from posenc.reporting.results import key

ALPHA = 0.05


def compared(results: dict, lengths: list[int]) -> list[tuple[str, str, int]]:
    """(task, metric, L) of every comparison family the report makes: exact match and token
    accuracy of each task at each length beyond training, plus IMDb accuracy at its longest length."""
    out = [(task, metric, L) for task in results["tasks"] for L in lengths for metric in ("exact", "acc")]
    if results.get("imdb"):
        L_imdb = max(int(k.split("_")[1]) for k in next(iter(results["imdb"].values())) if k.startswith("acc_"))
        out.append(("imdb", "acc", L_imdb))
    return out


def _rows(results: dict, task: str) -> dict:
    return results["imdb"] if task == "imdb" else results["tasks"][task]


FORMATS = ("_blank", "_start")  # a task's other formats (data/synthetic.py): the brief's, and with a start token


def plain_task(task: str) -> str | None:
    """The teacher-forced task that `task` is another format of (copy_blank, copy_start -> copy), or None."""
    return next((task[: -len(f)] for f in FORMATS if task.endswith(f)), None)


def format_pairs(results: dict) -> list[tuple[str, str]]:
    """(teacher-forced task, another format of it) for every such format whose plain task is in results."""
    return [(plain_task(t), t) for t in results["tasks"] if plain_task(t) in results["tasks"]]


def _paired(x: str, y: str, vx: list, vy: list) -> dict:
    a, b, va, vb = (x, y, vx, vy) if sum(vx) >= sum(vy) else (y, x, vy, vx)
    test = stats.paired_test(va, vb)
    return {"a": a, "b": b, "diff": test["diff"], "p": test["p"], "n": test["n"]}


def comparisons(results: dict, lengths: list[int], formats_at: tuple[int, ...] = ()) -> list[dict]:
    """Every pair of PEs in every family of compared(), and at `formats_at` every PE's two formats of a task
    (task "<task>/<task>_blank", a and b the tasks, pe the PE): paired test across seeds, Holm over all.
    Each: {task, metric, L, a, b, diff (a - b), p, p_holm, separated}; `a` is the better mean."""
    rows = []
    for task, metric, L in compared(results, lengths):
        per_pe = _rows(results, task)
        for x, y in combinations(sorted(per_pe), 2):
            rows.append({"task": task, "metric": metric, "L": L, **_paired(
                x, y, per_pe[x]["per_seed"][key(metric, L)], per_pe[y]["per_seed"][key(metric, L)])})
    for base, blank in format_pairs(results):
        both = [pe for pe in results["tasks"][base] if pe in results["tasks"][blank]]
        for L in formats_at:
            for metric in ("exact", "acc"):
                for pe in both:
                    vx, vy = (results["tasks"][t][pe]["per_seed"][key(metric, L)] for t in (base, blank))
                    rows.append({"task": f"{base}/{blank}", "pe": pe, "metric": metric, "L": L,
                                 **_paired(base, blank, vx, vy)})
    for row, adj in zip(rows, stats.holm([r["p"] for r in rows])):
        row["p_holm"] = adj
        row["separated"] = row["n"] >= stats.MIN_SEEDS and adj == adj and adj < ALPHA
    return rows


def points(diff: float) -> str:
    """A difference of two shares in percentage points: one decimal, or two significant digits under 0.1 (a
    separated difference of 0.005 points must not read "by 0.0 points")."""
    return f"{100 * diff:.1f}" if abs(100 * diff) >= 0.1 else f"{100 * diff:.2g}"


def sentence(results: dict, comps: list[dict], task: str, metric: str, L: int) -> str:
    """The report's one sentence about one family: the separated orderings, or why there are none."""
    fam = [c for c in comps if (c["task"], c["metric"], c["L"]) == (task, metric, L)]
    n_seeds = len(results.get("seeds", [0]))
    what = {"exact": "exact match", "acc": "token accuracy" if task != "imdb" else "accuracy"}[metric]
    if n_seeds < stats.MIN_SEEDS:
        return (f"{task}, {what} at {L}: one model per PE ({n_seeds} seed{'s' if n_seeds > 1 else ''}), so no "
                f"ranking is claimed; the intervals in the tables cover the evaluation sample only.")
    sep = [c for c in fam if c["separated"]]
    if not sep:
        return f"{task}, {what} at {L}: every difference between PEs is within noise (paired t-test over " \
               f"{n_seeds} seeds, Holm-corrected over all {len(comps)} comparisons, alpha {ALPHA}){power(fam)}."
    parts = [f"{c['a']} > {c['b']} (by {points(c['diff'])} points, Holm p = {c['p_holm']:.3g})" for c in sep]
    rest = len(fam) - len(sep)
    return (f"{task}, {what} at {L}: " + "; ".join(parts)
            + (f"; the other {rest} pairs are within noise" if rest > 1 else "; the other pair is within noise"
               if rest else "")
            + f" (paired t-test over {n_seeds} seeds, Holm-corrected over all {len(comps)} comparisons){power(fam)}.")


def power(fam: list[dict]) -> str:
    """The largest difference left within noise that has p < ALPHA before the correction, if any, in a clause:
    there "within noise" means too few seeds for so many comparisons, not two PEs that score alike."""
    raw = [c for c in fam if not c["separated"] and c["p"] < ALPHA]  # a NaN p is never < ALPHA
    big = max(raw, key=lambda c: abs(c["diff"]), default=None)
    if big is None:
        return ""
    who = f"{big['pe']}'s {big['a']} and {big['b']}" if "pe" in big else f"{big['a']} and {big['b']}"
    return (f"; of those, {who} differ by {points(big['diff'])} points with p = {big['p']:.2g} before the "
            f"correction, so 'within noise' here does not mean that the two score alike")


def format_sentence(results: dict, comps: list[dict], base: str, blank: str, metric: str, L: int) -> str:
    """The report's one sentence about the two formats of a task at one length: per PE, the separated
    orderings of the formats, or why there are none."""
    fam = [c for c in comps if (c["task"], c["metric"], c["L"]) == (f"{base}/{blank}", metric, L)]
    n_seeds = len(results.get("seeds", [0]))
    what = {"exact": "exact match", "acc": "token accuracy"}[metric]
    if n_seeds < stats.MIN_SEEDS:
        return (f"{base} vs {blank}, {what} at {L}: one model per PE and format ({n_seeds} "
                f"seed{'s' if n_seeds > 1 else ''}), so neither format is ranked above the other.")
    sep = [c for c in fam if c["separated"]]
    test = f"paired t-test over {n_seeds} seeds, Holm-corrected over all {len(comps)} comparisons"
    if not sep:
        return f"{base} vs {blank}, {what} at {L}: for every PE the two formats are within noise ({test}){power(fam)}."
    parts = [f"{c['pe']}: {c['a']} > {c['b']} (by {points(c['diff'])} points, Holm p = {c['p_holm']:.3g})"
             for c in sep]
    rest = len(fam) - len(sep)
    return (f"{base} vs {blank}, {what} at {L}: " + "; ".join(parts)
            + (f"; for the other {rest} PEs the formats are within noise" if rest > 1
               else "; for the other PE the formats are within noise" if rest else "")
            + f" ({test}){power(fam)}.")
