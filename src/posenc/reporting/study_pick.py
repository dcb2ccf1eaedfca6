"""Which remedy to pick, from the study's seeds (issue 16, item 5): the default's pick with error bars.

The default trains one seed, so its "Which encoding to pick" ranks nothing. The study's parts (study/<part>/,
reporting/study_parts.py) hold three seeds of every PE and variant, trained in pieces on different machines.
This module pools them: a candidate is one PE or variant of one part, with at least stats.MIN_SEEDS seeds,
from a part trained with study/params.yaml's recipe as it is now (a part made with another recipe is another
regime and is left out, named). Per task, at four times the training length (issue 16's bar):

- the candidate with the highest mean exact match (token accuracy where every candidate is at zero), with its
  95 % t interval over seeds;
- whether it is separated from each other candidate: models of two parts are not paired by seed, so this is
  Welch's unpaired t-test across seeds (Welch 1947), Holm-corrected over the task's comparisons (Holm 1979);
  within noise, the sentence lists the candidates it ties with;
- issue 16's bar (mean >= 95 %), the 3-token content-matching rule of the protocol issue, a training curriculum
  the PE declares (PositionalEncoding.distractors: it trains on other sequences than the rest), and its cost
  from the study's profile (study/profile.json: `python bench/cost.py --params study/params.yaml --out
  study/profile.json`), else the default's bench/profile.json.

For real text, the same over the parts' IMDb classifiers (accuracy at the longest truncation length).
Parts on a GPU and on a CPU are pooled: each candidate names its part and device, since their numbers differ.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from scipy import stats as sps

from posenc import config
from posenc.nn.pe import pe_class
from posenc.nn.pe.base import Dims
from posenc.reporting import partial, stats
from posenc.reporting.claims import ALPHA
from posenc.reporting.formats_text import described
from posenc.reporting.results import key, parent_pe
from posenc.reporting.study_parts import drifted, folders
from posenc.reporting.tables import overhead

EVAL_ONLY = ("imdb.test_reviews",)  # keys that change what is scored, not what is trained: pooled across


def welch(a, b) -> float:
    """p of Welch's t-test of mean(a) != mean(b); NaN with fewer than two values on a side."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if min(len(a), len(b)) < 2:
        return math.nan
    if a.std() == 0 and b.std() == 0:  # no spread on either side: t is undefined, the means differ or not
        return 0.0 if a.mean() != b.mean() else 1.0
    with warnings.catch_warnings():  # nearly equal values warn of lost precision; the p-value is then near 1
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(sps.ttest_ind(a, b, equal_var=False).pvalue)


def _label(folder: Path) -> str:
    return f"{folder.parent.name}/{folder.name}, {partial.device(folder).split(' (')[0]}"


def candidates(root: Path) -> tuple[dict, dict, list[str]]:
    """({task: {label: row}}, {label: row} of the IMDb classifiers, parts left out), rows with seeds, per_seed
    and the part's config; a label is "<name> (<part>, <device>)"."""
    study = config.load(root / "params.yaml")
    synth, imdb, left = {}, {}, []
    for folder in folders(root):
        cfg, evals, _ = partial.load(folder)
        if evals and not drifted(cfg, study, ("model", "train")):
            for task, rows in partial.cells(cfg, evals).items():
                for name, row in rows.items():
                    if len(row["seeds"]) >= stats.MIN_SEEDS:
                        synth.setdefault(task, {})[f"{name} ({_label(folder)})"] = {**row, "name": name, "cfg": cfg,
                                                                                     "folder": folder}
        elif evals:
            left.append(folder.name)
        ievals = partial.load_imdb(folder)
        if ievals and not [d for d in drifted(cfg, study, ("model", "imdb")) if d.split(" ")[0] not in EVAL_ONLY]:
            for name, row in partial.imdb_rows(cfg, ievals).items():
                if len(row["seeds"]) >= stats.MIN_SEEDS:
                    imdb[f"{name} ({_label(folder)})"] = {**row, "name": name, "cfg": cfg}
        elif ievals:
            left.append(f"{folder.name} (IMDb)")
    return synth, imdb, left


def best_and_ties(rows: dict, metric: str, L: int) -> tuple[str, list[str], int, dict[str, float]]:
    """(highest mean, the candidates it is not separated from, number of comparisons, each one's p before the
    correction)."""
    k = key(metric, L)
    mean = {n: float(np.mean(r["per_seed"][k])) for n, r in rows.items()}
    best = max(rows, key=lambda n: (mean[n], n))
    others = [n for n in rows if n != best]
    raw = [welch(rows[best]["per_seed"][k], rows[n]["per_seed"][k]) for n in others]
    p = stats.holm(raw)
    return best, [n for n, q in zip(others, p) if not (q == q and q < ALPHA)], len(others), dict(zip(others, raw))


def underpowered(rows: dict, best: str, ties: list[str], raw: dict[str, float], k: str) -> str:
    """The tie farthest below `best` that has p < ALPHA before the correction, if any, in a clause: there
    "within noise" is too few seeds for so many comparisons, and choosing by cost could pick a worse PE."""
    gap = {n: float(np.mean(rows[best]["per_seed"][k]) - np.mean(rows[n]["per_seed"][k])) for n in ties}
    lost = [n for n in ties if raw[n] < ALPHA]  # a NaN p is never < ALPHA
    if not lost:
        return ""
    far = max(lost, key=lambda n: gap[n])
    return (f"; but {far} scores {100 * gap[far]:.1f} points lower with p = {raw[far]:.2g} before the correction, "
            f"so 'within noise' here is too few seeds, not equal scores: run more seeds before choosing by cost")


def headline(rows: dict, metric: str, L: int) -> tuple[str, str]:
    """(the best candidate, '**name** (part, device), mean [lo, hi] %, separated from ... / within noise of ...')."""
    best, ties, n, raw = best_and_ties(rows, metric, L)
    per = rows[best]["per_seed"][key(metric, L)]
    seqs = rows[best]["cfg"].synthetic.eval_size if metric == "exact" else 0  # sequences a seed (partial.cell)
    head = f"**{best}**, {partial.cell(per, n=seqs)} % (mean [95 % t] over {len(per)} seeds)"
    test = f"Welch's t-test across seeds, Holm over its {n} comparison{'s' if n != 1 else ''}"
    if n == 0:
        return best, f"{head}, the only candidate"
    if not ties:
        return best, f"{head}, separated from every other candidate ({test})"
    caveat = underpowered(rows, best, ties, raw, key(metric, L))
    if len(ties) == n:
        return best, f"{head}, the highest mean but within noise of every other candidate ({test})" + (
            caveat or ": choose by cost")
    return best, (f"{head}, the highest mean but within noise of {', '.join(sorted(ties))} ({test})"
                  + (caveat or ": choose among them by cost"))


def curriculum(name: str, cfg: config.Config) -> str:
    """What a PE's own training data is, when it declares one (PositionalEncoding.distractors)."""
    pe, m = parent_pe(name, cfg.pes), cfg.model
    cls = pe_class(pe)
    dims = Dims(m.d_model, m.n_heads, m.max_positions, cfg.synthetic.train_max_len)
    share, sizes = cls.distractors(cls.parse_params(cfg.pe.get(pe), f"pe.{pe}", dims))
    if share <= 0:
        return ""
    return (f"it trains on a curriculum of its own ({share:.0%} of its training sequences re-spelt over "
            f"alphabets of {', '.join(map(str, sizes))} tokens; same count, lengths and steps as the others)")


def cost(name: str, cfg: config.Config, profile: dict | None, where: str, T: int) -> str:
    """Training tokens/s, time against the no-PE baseline, peak memory and extra parameters from a profile."""
    pe = parent_pe(name, cfg.pes)
    row = (profile or {}).get("models", {}).get(pe)
    if not row:
        return (f"cost: {pe} is not in {where} (`python bench/cost.py --params study/params.yaml --out "
                "study/profile.json` measures every PE of the study)")
    lengths = row["lengths"]
    at, far = lengths.get(str(T)) or next(iter(lengths.values())), max(lengths, key=int)
    extra = "" if pe == name else f"; an evaluation-time rescaling of {pe}'s models"
    return (f"cost ({where}, {profile['device_name']}): {at['train_tokens_per_s']:,.0f} training tokens/s at {T}, "
            f"{overhead(at, profile.get('rounds'))} the no-PE baseline's time per token, peak memory "
            f"{lengths[far]['peak_mem_mib']:,.0f} MiB at {far}, {row['extra_params']:,} extra parameters{extra}")


def task_line(task: str, rows: dict, metrics: Path, profile, where: str) -> list[str]:
    cfg = next(iter(rows.values()))["cfg"]
    T = cfg.synthetic.train_max_len
    L = 4 * T
    rows = {n: r for n, r in rows.items() if key("exact", L) in r["per_seed"]}
    if not rows:
        return [f"- **{task}**: no part evaluates it at {L} tokens."]
    if all(max(r["per_seed"][key("exact", L)]) == 0 for r in rows.values()):
        return [f"- **{task}**, {L} tokens (4x): no candidate copies a single sequence exactly; by token accuracy, "
                f"{headline(rows, 'acc', L)[1]}."]
    best, said = headline(rows, "exact", L)
    per, b = rows[best]["per_seed"][key("exact", L)], rows[best]
    seqs = b["cfg"].synthetic.eval_size
    lo = stats.share_interval(stats.t_interval(per, stats.SHARE), float(np.sum(per)) * seqs, len(per) * seqs)[0]
    facts = [f"it {'reaches' if np.mean(per) >= partial.FAR_EXACT else 'does not reach'} issue 16's bar "
             f"({partial.FAR_EXACT:.0%} mean exact match at {L})"]
    base = partial.lookup3(metrics, task, b["folder"]).get(str(L), {}).get("exact_match")
    if base is not None:
        facts.append(f"the 3-token content-matching rule scores {100 * base:.1f} %, and it is "
                     f"{'above' if lo > base else 'not above'} that by its interval")
    facts += [f for f in (curriculum(b["name"], b["cfg"]), cost(b["name"], b["cfg"], profile, where, T)) if f]
    text = "; ".join(facts)
    fmt = f"; {described(task)}" if described(task) else ""
    return [f"- **{task}** (retrieval{fmt}), exact match at {L} tokens (4x): {said}.",
            f"  {text[0].upper()}{text[1:]}."]


def section(root: Path, metrics: Path, study_profile: dict | None, default_profile: dict | None) -> str:
    """The seeded pick, for the report's "Which encoding to pick"; empty without study parts. Costs come
    from the study's profile (<root>/profile.json, read by the stage) where measured, else the default's."""
    if not (root / "params.yaml").is_file() or not folders(root):
        return ""
    synth, imdb, left = candidates(root)
    if not synth and not imdb:
        return ""
    profile, where = ((study_profile, f"{root.name}/profile.json") if study_profile
                      else (default_profile, "bench/profile.json"))
    lines = [f"With the study's seeds ({root.name}/: every PE and variant with {stats.MIN_SEEDS} seeds or more in a "
             f"part trained with {root.name}/params.yaml's recipe as it is now"
             + (f"; left out as another recipe: {', '.join(left)}" if left else "")
             + "). Each candidate names its part and device; GPU and CPU numbers differ.", ""]
    for task, rows in synth.items():
        lines += task_line(task, rows, metrics, profile, where)
    if imdb:
        L = max(next(iter(imdb.values()))["cfg"].imdb.eval_lengths)
        best, said = headline(imdb, "acc", L)
        b = imdb[best]
        lines.append(f"- **Real text** (IMDb), accuracy with reviews truncated at {L} tokens: {said}; "
                     f"{cost(b['name'], b['cfg'], profile, where, b['cfg'].synthetic.train_max_len)}.")
    return "\n".join(lines) + "\n"
