"""The IMDb change between two lengths: McNemar's exact test on the same reviews (one seed), a paired t over
seeds (several), and a sentence that says gains/loses only when its test backs it."""

import math

import pytest
from scipy import stats as sps

from posenc.reporting import paired, results


def record(pred: str, label: str) -> dict:
    return {"pred": pred, "label": label}


def test_mcnemar_counts_only_the_reviews_whose_verdict_changes():
    label = "0000011111"
    at_t, at_l = record("0000011111", label), record("1100011110", label)  # right at T only: 3; at L only: 0
    t = paired.mcnemar(at_t, at_l)
    assert (t["only_t"], t["only_l"], t["n"]) == (3, 0, 10)
    assert t["p"] == pytest.approx(sps.binomtest(0, 3).pvalue)
    assert paired.mcnemar(at_t, at_t)["p"] == 1.0  # no discordant review: nothing to test
    with pytest.raises(ValueError, match="same reviews"):
        paired.mcnemar(at_t, record("0000011111", "1111100000"))


def test_several_seeds_get_a_paired_t_over_the_seeds():
    evals = {("rope", sd): {"16": {"acc": 0.8}, "32": {"acc": 0.8 + d}} for sd, d in enumerate((0.01, 0.03, 0.02))}
    t = paired.length_change(evals, "rope", [0, 1, 2], 16, 32)
    assert t["test"] == "paired t over seeds" and t["n"] == 3
    assert t["p"] == pytest.approx(sps.ttest_1samp([0.01, 0.03, 0.02], 0.0).pvalue)
    same = {k: {"16": {"acc": 0.8}, "32": {"acc": 0.8}} for k in evals}
    assert paired.length_change(same, "rope", [0, 1, 2], 16, 32)["p"] == 1.0


def row(acc_t, acc_l, loss_l=0.4):
    return {"acc_16": acc_t, "acc_32": acc_l, "loss_16": 0.4, "loss_32": loss_l}


@pytest.mark.parametrize("delta", [-0.2, -0.004, 0.0, 0.003, 0.006, 0.1])
@pytest.mark.parametrize("p", [1e-9, 0.049, 0.05, 0.6, math.nan])
def test_a_change_is_claimed_only_when_its_test_backs_it(delta, p):
    test = {"test": "McNemar", "p": p, "n": 5000}
    text = paired.change_text(row(0.8, 0.8 + delta), 16, 32, test, lambda x: f"{100 * x:.1f} %")
    claimed = text.startswith(("gains", "loses"))
    assert claimed == (abs(100 * delta) >= paired.SAME_POINTS and p < paired.ALPHA)
    assert ("unchanged" in text) == (abs(100 * delta) < paired.SAME_POINTS)
    assert "McNemar p = " in text and "5,000 reviews" in text
    if claimed:
        assert text.startswith("gains" if delta > 0 else "loses")


def test_a_nan_loss_and_a_missing_test():
    pct = lambda x: f"{100 * x:.1f} %"  # noqa: E731
    assert paired.change_text(row(0.8, 0.5, math.nan), 16, 32, None, pct) == "gives a NaN loss at 32 (scored 0)"
    assert paired.change_text(row(0.8, 0.7), 16, 32, None, pct) == "loses 10.0 points at 32 (70.0 %)"
    assert paired.change_text(row(0.8, 0.803), 16, 32, None, pct) == \
        f"is unchanged at 32 (80.3 %, +0.3 points, under the {paired.SAME_POINTS} called a change)"


def test_the_classifiers_tests_are_holm_corrected_together():
    label = "0" * 20 + "1" * 20
    worse = "1" * 7 + label[7:]  # 7 reviews right at T only: p = 0.016 alone
    evals = {("rope", 0): {"16": {"per_review": record(label, label)}, "32": {"per_review": record(worse, label)}}}
    for i in range(4):  # four classifiers whose verdicts never change
        evals[(f"pe{i}", 0)] = {L: {"per_review": record(label, label)} for L in ("16", "32")}
    tests = paired.imdb_tests(evals, [0], 16, 32)
    t = tests["rope"]
    assert t["p_raw"] == pytest.approx(sps.binomtest(0, 7).pvalue)
    assert t["p_raw"] < paired.ALPHA <= t["p"]  # x5 by Holm
    assert t["holm"] == 5 and "Holm over 5 classifiers" in paired.described(t)
    text = paired.change_text({"acc_16": 1.0, "acc_32": 33 / 40, "loss_16": 0.4, "loss_32": 0.4}, 16, 32, t, str)
    assert text.startswith("is within noise at 32")  # lost to the correction: no "loses" claim


# ------------------------------------------------ where the changed predictions go

def evals_of(rows: dict[str, list[tuple[str, str]]], label: str) -> dict:
    """{(name, seed): {"16", "32"}} from (pred at 16, pred at 32) per seed."""
    return {(name, sd): {"16": {"per_review": record(a, label)}, "32": {"per_review": record(b, label)}}
            for name, pairs in rows.items() for sd, (a, b) in enumerate(pairs)}


def test_a_lean_counts_the_changed_predictions_by_the_class_they_go_to():
    label = "0" * 10 + "1" * 10
    to = results.changed_to(record("0" * 10 + "1" * 10, label), record("1" * 3 + "0" * 7 + "0" * 8 + "1" * 2, label))
    assert to == [8, 3]  # 8 of the positives turned negative, 3 negatives positive
    t = paired.lean(to)
    assert (t["to"], t["changed"]) == ([8, 3], 11) and t["p"] == pytest.approx(sps.binomtest(8, 11).pvalue)
    assert results.changed_to(record(label, label), record(label, label)) == [0, 0]
    assert paired.lean([0, 0]) == {"test": "sign", "changed": 0, "to": [0, 0], "p": 1.0}
    with pytest.raises(ValueError, match="same reviews"):
        results.changed_to(record(label, label), record(label, label[::-1]))


@pytest.mark.parametrize("to_neg,to_pos,leans", [(30, 0, 0), (0, 30, 1), (15, 15, None), (20, 10, None)])
def test_the_sentence_names_a_class_only_when_the_sign_test_separates_it_from_half(to_neg, to_pos, leans):
    n = 60
    label, before = "0" * n, "1" * to_neg + "0" * to_pos + "0" * (n - to_neg - to_pos)
    after = "0" * to_neg + "1" * to_pos + "0" * (n - to_neg - to_pos)
    tests = paired.lean_tests(evals_of({"rope": [(before, after)]}, label), 16, 32)["rope"]
    assert paired.leaning(tests[0]) == leans
    text = paired.lean_text(tests, 16, 32)
    assert f"go {to_neg} to negative and {to_pos} to positive" in text
    assert text.endswith("no lean beyond noise" if leans is None else
                         f"more go to {paired.CLASS_NAMES[leans]} beyond noise")
    one = paired.lean_tests(evals_of({"rope": [("1" + "0" * 9, "0" * 10)]}, "0" * 10), 16, 32)["rope"]
    assert paired.lean_text(one, 16, 32) == ("the one prediction that changes between 16 and 32 goes to negative "
                                             "(sign test p = 1): no lean beyond noise")


def test_the_leans_are_holm_corrected_over_every_model_and_listed_per_seed():
    label = "0" * 40
    one_way = ("1" * 9 + "0" * 31, "0" * 40)  # 9 turn negative: p = 0.0039 alone
    still = (label, label)
    tests = paired.lean_tests(evals_of({"learned": [one_way, one_way], "nope": [still, still]}, label), 16, 32)
    assert [t["holm"] for t in tests["learned"]] == [4, 4] and [t["seed"] for t in tests["learned"]] == [0, 1]
    assert tests["learned"][0]["p_raw"] < paired.ALPHA and tests["learned"][0]["p"] == pytest.approx(
        min(1.0, 4 * tests["learned"][0]["p_raw"]))
    assert paired.lean_cells({"learned": tests["learned"]}) == "learned 100.0* / 100.0*"
    assert "100.0 %* of 9, 100.0 %* of 9" in paired.lean_text(tests["learned"], 16, 32)


def test_a_row_differs_from_the_positionless_reference_only_where_fisher_separates_them():
    label = "0" * 40 + "1" * 40
    both_ways = ("1" * 12 + "0" * 68, "0" * 12 + "1" * 12 + "0" * 56)  # 12 to negative, 12 to positive
    to_neg = ("1" * 24 + "0" * 56, "0" * 80)  # all 24 to negative
    rows = {"nope": [both_ways], "learned": [to_neg], "rope": [both_ways]}
    leans = paired.lean_tests(evals_of(rows, label), 16, 32)
    comp = paired.against_reference(leans, "nope")
    assert set(comp) == {"learned", "rope"} and comp["rope"][0]["p_raw"] == 1.0
    assert comp["learned"][0]["p_raw"] == pytest.approx(sps.fisher_exact([[24, 0], [12, 12]]).pvalue)
    assert paired.positionless(["learned", "rope", "nope"], leans) == "nope"  # its class: kind "none"
    assert paired.positionless(["learned", "rope"], leans) is None
    text = paired.reference_text(leans, "nope", 16, 32)
    assert "learned (100.0 %) differs from it beyond noise" in text
    assert text.endswith("rope does not differ from it beyond noise.")


def test_a_seed_without_changed_predictions_is_not_counted_as_differing():
    label = "0" * 40
    both_ways = ("1" * 12 + "0" * 28, "0" * 12 + "1" * 12 + "0" * 16)
    to_neg, still = ("1" * 24 + "0" * 16, "0" * 40), (label, label)
    rows = {"nope": [both_ways, both_ways], "learned": [to_neg, still]}  # learned's seed 1 changes nothing
    leans = paired.lean_tests(evals_of(rows, label), 16, 32)
    text = paired.reference_text(leans, "nope", 16, 32)
    assert "in each of its" not in text  # one seed of two compared: not "every seed"
    assert "learned (100.0 %* / none changed) differs from it in some seeds only" in text


def test_the_report_reads_the_same_leans_from_results_json_as_from_the_evaluations():
    label = "0" * 40
    rows = {"learned": [("1" * 9 + "0" * 31, "0" * 40), ("1" * 5 + "0" * 35, "0" * 5 + "1" * 2 + "0" * 33)],
            "nope": [("1" * 3 + "0" * 37, "0" * 3 + "1" * 3 + "0" * 34)] * 2}
    evals = evals_of(rows, label)
    results = {"seeds": [0, 1], "imdb_leans": {"from": 16, "rows": {
        name: {"32": [results_changed(evals[(name, sd)]) for sd in (0, 1)]} for name in rows}}}
    assert paired.leans_of(results, 32) == paired.lean_tests(evals, 16, 32)


def results_changed(ev: dict) -> list[int]:
    return results.changed_to(ev["16"]["per_review"], ev["32"]["per_review"])
