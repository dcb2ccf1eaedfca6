"""Does a classifier's IMDb accuracy change between the training length and a longer one? Tested on the same
reviews, and the report's sentence says so only when the test does.

A model's accuracies at truncation lengths T and L are scored on the same test reviews, so they are paired:
only the reviews whose verdict differs between the two lengths carry information. With one seed the test is
McNemar's exact test (McNemar 1947, in its exact form: the reviews right at L only against those right at T
only, a two-sided binomial test at 1/2); it covers the evaluation sample, not the training seed. With two
seeds or more it is a paired t-test over the seeds' accuracies, which covers the seeds as well.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from posenc.data.imdb import LABELS
from posenc.nn.pe import pe_class
from posenc.reporting import stats
from posenc.reporting.results import changed_to, digits, key

SAME_POINTS = 0.5  # a change smaller than this many accuracy points is "unchanged" whatever its p-value
ALPHA = 0.05


CLASS_NAMES = tuple({"neg": "negative", "pos": "positive"}[c] for c in LABELS)  # by label id


def correct(pred: str, label: str) -> np.ndarray:
    """Per review, whether the prediction is right; pred and label are strings of digits (analysis/evaluate_imdb)."""
    return digits(pred) == digits(label)


def mcnemar(at_t: dict, at_l: dict) -> dict:
    """McNemar's exact test of two evaluations' per_review records of the same reviews."""
    if at_t["label"] != at_l["label"]:
        raise ValueError("the two evaluations do not score the same reviews (their labels differ)")
    a, b = correct(at_t["pred"], at_t["label"]), correct(at_l["pred"], at_l["label"])
    only_t, only_l = int((a & ~b).sum()), int((~a & b).sum())
    p = float(sps.binomtest(only_l, only_t + only_l).pvalue) if only_t + only_l else 1.0
    return {"test": "McNemar", "p": p, "n": len(a), "only_t": only_t, "only_l": only_l}


def length_change(imdb_evals: dict, name: str, seeds: list[int], T: int, L: int) -> dict:
    """The test of `name`'s accuracy at L against T; imdb_evals keyed (name, seed) -> {str(length): evaluation},
    as results.read_inputs returns them."""
    if len(seeds) >= 2:
        acc = [[imdb_evals[(name, sd)][str(X)]["acc"] for sd in seeds] for X in (L, T)]
        return {"test": "paired t over seeds", **stats.paired_test(*acc)}
    ev = imdb_evals[(name, seeds[0])]
    return mcnemar(ev[str(T)]["per_review"], ev[str(L)]["per_review"])


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def described(t: dict) -> str:
    holm = f", Holm over {t['holm']} classifiers" if t.get("holm", 1) > 1 else ""
    if t["test"] == "McNemar":
        return f"McNemar p = {_p(t['p'])} on the same {t['n']:,} reviews, one model{holm}"
    return f"paired t over {t['n']} seeds, p = {_p(t['p'])}{holm}"


def change_text(row: dict, T: int, L: int, test: dict | None, pct) -> str:
    """'is unchanged at L', 'gains/loses x points at L' (with its test), or, when the test does not back the
    change, 'is within noise at L'. row: a results.json imdb row; pct formats an accuracy."""
    at = pct(row[key("acc", L)])
    if not math.isfinite(row[key("loss", L)]):
        return f"gives a NaN loss at {L} (scored 0)"
    delta = 100 * (row[key("acc", L)] - row[key("acc", T)])
    tested = f"; {described(test)}" if test else ""
    if abs(delta) < SAME_POINTS:
        return f"is unchanged at {L} ({at}, {delta:+.1f} points, under the {SAME_POINTS} called a change{tested})"
    if test and not test["p"] < ALPHA:  # a NaN p backs nothing either
        return f"is within noise at {L} ({at}, {delta:+.1f} points{tested})"
    return f"{'gains' if delta > 0 else 'loses'} {abs(delta):.1f} points at {L} ({at}{tested})"


def imdb_tests(imdb_evals: dict, seeds: list[int], T: int, L: int) -> dict[str, dict]:
    """length_change for every IMDb row (each PE and evaluation variant) of imdb_evals, its p Holm-corrected over
    all of them ("p_raw" keeps the test's own): the report makes one such claim per classifier."""
    tests = {name: length_change(imdb_evals, name, seeds, T, L) for name in sorted({n for n, _ in imdb_evals})}
    adjusted = stats.holm([t["p"] for t in tests.values()])
    return {name: {**t, "p_raw": t["p"], "p": float(q), "holm": len(tests)}
            for (name, t), q in zip(tests.items(), adjusted)}


def lean(to: list[int]) -> dict:
    """A model's predictions that change between two lengths, counted by the class they change to (label id
    order, results.changed_to), with the two-sided sign test at 1/2 of those counts as "p"."""
    n = sum(to)
    return {"test": "sign", "changed": n, "to": list(to), "p": float(sps.binomtest(to[0], n).pvalue) if n else 1.0}


def counted_tests(counts: dict[tuple[str, int], list[int]]) -> dict[str, list[dict]]:
    """lean() of every model ((name, seed) -> its changed predictions per class), per name in seed order, each p
    Holm-corrected over all of them ("p_raw": its own)."""
    keys = sorted(counts)
    raw = [lean(counts[k]) for k in keys]
    adjusted = stats.holm([t["p"] for t in raw])
    out: dict[str, list[dict]] = {}
    for (name, seed), t, q in zip(keys, raw, adjusted):
        out.setdefault(name, []).append({**t, "seed": seed, "p_raw": t["p"], "p": float(q), "holm": len(raw)})
    return out


def lean_tests(imdb_evals: dict, T: int, L: int) -> dict[str, list[dict]]:
    """counted_tests() from T to L of every model in imdb_evals ((name, seed) -> {str(length): evaluation}) that
    recorded its per-review verdicts (a study part's files)."""
    return counted_tests({k: changed_to(ev[str(T)]["per_review"], ev[str(L)]["per_review"])
                          for k, ev in imdb_evals.items() if all("per_review" in ev.get(str(x), {}) for x in (T, L))})


def leans_of(results: dict, L: int) -> dict[str, list[dict]]:
    """counted_tests() at L of the counts results.json holds (imdb_leans, written by the aggregate stage)."""
    rows = results["imdb_leans"]["rows"]
    return counted_tests({(pe, sd): per[str(L)][i] for pe, per in rows.items()
                          for i, sd in enumerate(results["seeds"])})


def leaning(t: dict) -> int | None:
    """The class a model's changed predictions go to beyond noise (its label id), or None."""
    return int(np.argmax(t["to"])) if t["changed"] and t["p"] < ALPHA else None


def share(t: dict) -> str:
    """The share of a model's changed predictions that go to the first class: '64.3 %'."""
    return f"{100 * t['to'][0] / t['changed']:.1f} %" if t["changed"] else "none changed"


def lean_text(tests: list[dict], T: int, L: int) -> str:
    """Where one classifier's changed predictions go, from lean_tests: a sentence for one seed, shares per seed
    for several."""
    holm = f", Holm over {tests[0]['holm']} models" if tests[0]["holm"] > 1 else ""
    if len(tests) == 1:
        t = tests[0]
        n, c = t["changed"], leaning(t)
        if not n:
            return f"no prediction changes between {T} and {L}"
        split = " and ".join(f"{k:,} to {name}" for k, name in zip(t["to"], CLASS_NAMES))
        verdict = "no lean beyond noise" if c is None else f"more go to {CLASS_NAMES[c]} beyond noise"
        which = f"the {n:,} predictions that change between {T} and {L} go {split}" if n > 1 else \
            f"the one prediction that changes between {T} and {L} goes to {CLASS_NAMES[int(t['to'][1] > 0)]}"
        return f"{which} (sign test p = {_p(t['p'])}{holm}): {verdict}"
    cells = [f"{share(t)}{'*' if leaning(t) is not None else ''} of {t['changed']:,}" for t in tests]
    return (f"of the predictions that change between {T} and {L}, the share going to {CLASS_NAMES[0]} per seed: "
            f"{', '.join(cells)} (*: not half and half beyond noise, sign test{holm})")


def positionless(pes, rows: dict) -> str | None:
    """The first PE of `pes` among `rows` whose class gives no position signal: the reference for where the added
    text alone sends a classifier's verdicts (for the bidirectional classifier it reads a bag of tokens)."""
    return next((pe for pe in pes if pe in rows and pe_class(pe).theory.kind == "none"), None)


def against_reference(leans: dict[str, list[dict]], ref: str) -> dict[str, list[dict]]:
    """Each other row's changed predictions against the reference row's of the same seed (the classifier without
    positions: where the longer text alone sends them): Fisher's exact test on the two rows' counts per class,
    Holm over every comparison. {name: [{"seed", "p", "p_raw", "holm"}]}."""
    ref_by_seed = {t["seed"]: t for t in leans[ref]}
    raw = [(name, t["seed"], float(sps.fisher_exact([t["to"], ref_by_seed[t["seed"]]["to"]]).pvalue))
           for name in sorted(leans) if name != ref for t in leans[name]
           if t["seed"] in ref_by_seed and t["changed"] and ref_by_seed[t["seed"]]["changed"]]
    out: dict[str, list[dict]] = {}
    for (name, seed, p), q in zip(raw, stats.holm([p for *_, p in raw])):
        out.setdefault(name, []).append({"seed": seed, "p": float(q), "p_raw": p, "holm": len(raw)})
    return out


def reference_text(leans: dict[str, list[dict]], ref: str, T: int, L: int) -> str:
    """Which classifiers' changed predictions go elsewhere than the positionless reference's, beyond noise."""
    comp = against_reference(leans, ref)
    if not comp:
        return ""
    r, n_seeds = leans[ref], len(leans[ref])

    def listed(names: list[str], mark: bool) -> str:
        """'learned (99.8 %)' per name; with several seeds every seed's share, '*' on those that differ."""
        if n_seeds == 1:
            return ", ".join(f"{n} ({share(leans[n][0])})" for n in names)
        return ", ".join(f"{n} (" + " / ".join(f"{share(t)}{'*' if mark and t['seed'] in apart[n] else ''}"
                                               for t in leans[n]) + ")" for n in names)

    apart = {n: {c["seed"] for c in cs if c["p"] < ALPHA} for n, cs in comp.items()}  # the seeds that differ
    every = [n for n, cs in comp.items() if len(apart[n]) == len(leans[n])]  # every seed compared, and apart
    some = [n for n in comp if n not in every and apart[n]]
    rest = [n for n in comp if n not in every and n not in some]
    one = {True: ("differs", "does"), False: ("differ", "do")}  # a verb for one name or several
    seeds = f" in each of its {n_seeds} seeds" if n_seeds > 1 else ""
    parts = [f"{listed(every, False)} {one[len(every) == 1][0]} from it{seeds} beyond noise: there the position "
             "signal moves the verdicts beyond what the added text does" if every else "",
             f"{listed(some, True)} {one[len(some) == 1][0]} from it in some seeds only (*: those seeds)"
             if some else "",
             f"{', '.join(rest)} {one[len(rest) == 1][1]} not differ from it beyond noise" if rest else ""]
    ref_share = " / ".join(share(t) for t in r)
    per_seed = ", per seed" if n_seeds > 1 else ""
    holm = next(iter(comp.values()))[0]["holm"]
    per_seed += f", Holm over {holm}" if holm > 1 else ""
    return (f"What the added text does without positions: {ref}, which has no position signal, sends {ref_share} "
            f"of its changed predictions between {T} and {L} to {CLASS_NAMES[0]}. Against that share (Fisher's exact "
            f"test on the counts per class{per_seed}): "
            + "; ".join(x for x in parts if x) + ".")


def lean_cells(leans: dict[str, list[dict]]) -> str:
    """Every row's share of changed predictions going to the first class, per seed, '*' where the sign test
    separates it from one half: 'learned 99.8* / 99.8* / 50.0'."""
    return "; ".join(f"{name} " + " / ".join(f"{share(t).removesuffix(' %')}{'*' if leaning(t) is not None else ''}"
                                             for t in tests) for name, tests in leans.items())
