"""Which encoding to pick (issue 16): the question a reader asks after the tables, answered from the numbers.

For copy-like retrieval (each synthetic task) and for real text (IMDb), the candidate with the highest mean
score at the longest evaluation length is named, together with the candidates it is not separated from
(claims.comparisons: a paired t-test across seeds, Holm-corrected over every comparison the report makes),
whether it solves the task at the training length and beats the content-matching rule, and what it costs
(bench/profile.json: time per training token against the no-PE baseline, extra parameters). With fewer than
stats.MIN_SEEDS seeds nothing is ranked: the sentence names the highest mean and says that it is one seed.
Evaluation variants (rope_ntk, ...) are candidates too: they cost what their trained PE costs.
"""

from __future__ import annotations

import math

from posenc.reporting import stats
from posenc.reporting.results import key, parent_pe
from posenc.reporting.tables import _pct, overhead


def _ci(row: dict, k: str) -> str:
    lo, hi = row.get("ci", {}).get(k, (math.nan, math.nan))
    return f" [{_pct(lo)}, {_pct(hi)}]" if math.isfinite(lo) and math.isfinite(hi) else ""


def cost(name: str, pes: list[str], profile: dict | None, T: int) -> str:
    """What picking `name` costs, from `make bench`'s profile (nothing measured: it says so)."""
    pe = parent_pe(name, pes)
    extra = "" if pe == name else f" (an evaluation-time rescaling of {pe}'s model: no training of its own)"
    row = (profile or {}).get("models", {}).get(pe)
    if not row:
        return f"cost: not in bench/profile.json (`make bench` measures it){extra}"
    at = row["lengths"].get(str(T)) or next(iter(row["lengths"].values()))
    return (f"cost: {overhead(at, profile.get('rounds'))} the no-PE baseline's training time per token at {T}, "
            f"{row['extra_params']:,} extra parameters{extra}")


def tied_with(best: str, family: list[dict]) -> list[str]:
    """Candidates `best` is not separated from, in a family of comparisons."""
    out = []
    for c in family:
        if best in (c["a"], c["b"]) and not (c["separated"] and c["a"] == best):
            out.append(c["b"] if c["a"] == best else c["a"])
    return sorted(out)


def pick(rows: dict, comps: list[dict], task: str, metric: str, L: int, n_seeds: int) -> tuple[str, str]:
    """(best candidate, the sentence about how sure that is)."""
    k = key(metric, L)
    best = max(rows, key=lambda n: (rows[n][k], rows[n].get(key("acc", L), 0.0), n))
    family = [c for c in comps if (c["task"], c["metric"], c["L"]) == (task, metric, L)]
    head = f"**{best}**, {_pct(rows[best][k])}{_ci(rows[best], k)}"
    if n_seeds < stats.MIN_SEEDS:
        return best, (f"{head} has the highest mean; with {n_seeds} seed{'s' if n_seeds > 1 else ''} this ranks "
                      "nothing (the interval covers the evaluation sample, not training noise): run the study's "
                      "seeds before choosing on it")
    ties = tied_with(best, family)
    if not ties:
        return best, f"{head} is separated from every other candidate (paired t-test across {n_seeds} seeds, Holm)"
    return best, (f"{head} has the highest mean but is within noise of {', '.join(ties)}: choose among them by "
                  "cost")


def synthetic_lines(results: dict, comps: list[dict], pes: list[str], profile, T: int, solved: float) -> list[str]:
    lines = []
    n_seeds = len(results.get("seeds", [0]))
    L = max(int(k.split("_")[1]) for k in next(iter(next(iter(results["tasks"].values())).values()))
            if k.startswith("exact_"))
    for task, rows in results["tasks"].items():
        best, how = pick(rows, comps, task, "exact", L, n_seeds)
        row = rows[best]
        if row[key("exact", L)] == 0:
            best, how = pick(rows, comps, task, "acc", L, n_seeds)
            row = rows[best]
            lines.append(f"- **{task}** (retrieval), {L} tokens: no candidate copies a single sequence exactly; by "
                         f"token accuracy, {how}.")
        else:
            lines.append(f"- **{task}** (retrieval), exact match at {L} tokens: {how}.")
        base = results.get("baselines", {}).get(task, {}).get("lookup3", {}).get(str(L))
        facts = [f"it {'solves' if row.get('solved') else 'does not solve'} the task at {T} "
                 f"(mean exact match {_pct(row[key('exact', T)])}, threshold {_pct(solved)})"]
        if base is not None:
            lo = row.get("ci", {}).get(key("exact", L), (math.nan,))[0]
            facts.append(f"the 3-token content-matching rule scores {_pct(base['exact'])} exact match at {L}, and "
                         f"{best} is {'above' if lo > base['exact'] else 'not above'} it by its interval")
        facts.append(cost(best, pes, profile, T))
        lines.append("  " + "; ".join(facts).capitalize()[:1] + "; ".join(facts)[1:] + ".")
    return lines


def imdb_lines(results: dict, comps: list[dict], pes: list[str], profile, T: int) -> list[str]:
    rows = results.get("imdb")
    if not rows:
        return []
    L = max(int(k.split("_")[1]) for k in next(iter(rows.values())) if k.startswith("acc_"))
    best, how = pick(rows, comps, "imdb", "acc", L, len(results.get("seeds", [0])))
    return [f"- **Real text** (IMDb), accuracy with reviews truncated at {L} tokens: {how}; "
            f"{cost(best, pes, profile, T)}."]


def section(results: dict, comps: list[dict], pes: list[str], profile, T: int, solved: float) -> str:
    lines = ["## Which encoding to pick", "",
             "Computed from the tables above: the highest mean at the longest evaluation length, how sure that is, "
             "and its cost. Candidates are every trained PE and every evaluation variant.", ""]
    lines += synthetic_lines(results, comps, pes, profile, T, solved)
    lines += imdb_lines(results, comps, pes, profile, T)
    return "\n".join(lines) + "\n"
