"""The report's verdict on the distance probe (reporting/distance.py): which of prefix and shift takes exact
match below its K = 0 interval (95 % Wilson, over the probe's sequences)."""

import pytest

from posenc.reporting import distance
from posenc.reporting.stats import proportion_interval


def probe(prefix_last: float, shift_last: float, base: float = 0.9, n: int = 256) -> dict:
    ks = ("0", "64", "128")
    row = lambda first, last: {k: {"exact": first if k == "0" else last, "acc": 1.0} for k in ks}  # noqa: E731
    prefix = {k: {**v, "rule_exact": 0.5} for k, v in row(base, prefix_last).items()}
    return {"n": n, "scored": "every target but the first", "prefix": prefix, "shift": row(base, shift_last)}


@pytest.mark.parametrize("prefix_last, shift_last, base, says", [
    (0.9, 0.9, 0.9, "Neither the prefix nor the shift"),
    (0.85, 0.88, 0.9, "Neither the prefix nor the shift"),  # inside the interval: noise, not a fall
    (0.2, 0.9, 0.9, "the prefix takes exact match below its K=0 interval from K=64 on"),
    (0.2, 0.1, 0.9, "A shift alone takes exact match below its K=0 interval from K=64 on (the prefix too, from K=64 on)"),
    (0.9, 0.1, 0.9, "A shift alone takes exact match below its K=0 interval from K=64 on (95 %"),
    (0.0, 0.0, 0.02, "too low at K=0"),
])
def test_verdict_follows_the_intervals(prefix_last, shift_last, base, says):
    assert says in distance.verdict(probe(prefix_last, shift_last, base))


def test_the_verdict_says_from_which_k_on_exact_match_stays_below():
    d = probe(0.2, 0.1)
    d["shift"]["64"]["exact"] = 0.9  # the shift falls at the largest K only; the prefix from the first K > 0
    assert "interval at K=128 (the prefix too, from K=64 on) (95 %" in distance.verdict(d)
    d["prefix"]["64"]["exact"] = 0.9
    d["prefix"]["128"]["exact"] = 0.9  # back inside at the largest K: the shift alone
    assert "A shift alone takes exact match below its K=0 interval at K=128 (95 %" in distance.verdict(d)


def test_sentence_lists_every_k_with_the_rule_and_ends_with_the_verdict():
    d = probe(0.2, 0.9)
    text = distance.sentence(d, lambda x: f"{100 * x:.1f} %")
    assert "20.0 % at K=128" in text and "50.0 % at K=64" in text and "256 validation copies" in text
    assert text.endswith(distance.verdict(d))


def test_wilson_interval_contains_the_proportion_and_narrows_with_n():
    lo, hi = proportion_interval(230, 256)
    assert lo < 230 / 256 < hi and 0 <= lo and hi <= 1
    lo2, hi2 = proportion_interval(2300, 2560)
    assert hi2 - lo2 < hi - lo
    assert proportion_interval(0, 50)[0] == 0.0


def test_prefix_fall_is_read_against_the_content_rule_on_the_same_sequences():
    d = probe(0.3, 0.9)  # the rule scores 0.5 at every K > 0
    assert "the model is never above the rule once K > 0" in distance.verdict(d)
    d["prefix"]["64"]["exact"] = 0.8
    assert "the model is above the rule at K=64 only" in distance.verdict(d)
    d["prefix"]["128"]["exact"] = 0.7
    assert "the model stays above the rule at every K > 0" in distance.verdict(d)


@pytest.mark.parametrize("prefix_exact, says", [(0.4, "exact match is higher with the prefix: at this length the longer copy offset costs more"),
                                                (0.0, "exact match is lower with the prefix: at this length the prefix costs more"),
                                                (0.1, "exact match within noise")])
def test_same_length_compares_the_prefix_with_the_evaluations_longer_copies(prefix_exact, says):
    d = probe(prefix_exact, 0.9)  # K = 128 on sequences of 127 tokens: 255 in all
    evaluation = {256: {"exact": 0.1, "ci": [0.06, 0.14], "acc": 0.5}, 1024: {"exact": 0.0, "ci": [0.0, 0.0], "acc": 0.1}}
    text = distance.same_length(d, 127, evaluation, lambda x: f"{100 * x:.1f} %")
    assert says in text and "copies of 256 tokens" in text and "1024" not in text  # no K brings 127 to 1024


def test_a_model_too_weak_for_the_probe_gets_no_same_length_reading():
    evaluation = {256: {"exact": 0.0, "ci": [0.0, 0.0], "acc": 0.2}}
    weak = probe(0.0, 0.0, base=0.04)
    assert distance.too_low(weak) and "Same length" not in distance.sentence(weak, str, 127, evaluation)
    assert "Same length" in distance.sentence(probe(0.4, 0.9), str, 127, evaluation)
