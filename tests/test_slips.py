"""reporting/slips.py: wrong targets read as independent slips (exact match = exp(-slips per sequence))."""
import math

import numpy as np
import pytest

from posenc.reporting import slips


def lengths(wrong_per_seq, targets, L=1024, token_acc=None):
    """One seed's evaluation at length L with the given wrong-target counts per sequence."""
    wrong = np.asarray(wrong_per_seq)
    acc = 1 - wrong.sum() / (targets * len(wrong)) if token_acc is None else token_acc
    return {str(L): {"targets": targets, "exact_match": float(np.mean(wrong == 0)), "token_acc": acc,
                     "per_seq": {"right": (targets - wrong).tolist()}}}


def test_slip_stats_counts_wrong_targets_per_sequence_and_averages_over_seeds():
    s = slips.slip_stats([lengths([0, 2], 10), lengths([1, 1], 10)], 1024)
    assert s["lam"] == pytest.approx(1.0) and s["rate"] == pytest.approx(0.1) and s["targets"] == 10
    assert s["poisson"] == pytest.approx(math.exp(-1)) and s["exact"] == pytest.approx(0.25)
    assert slips.slip_stats([{"1024": {"targets": 10, "exact_match": 0.0, "per_seq": {}}}], 1024) is None
    assert slips.slip_stats([lengths([0], 10)], 512) is None  # no evaluation at that length


def test_independent_slips_give_exact_match_close_to_exp_of_minus_slips():
    """The property the table relies on: with independent errors at rate p, P(no error) ~ exp(-m p)."""
    rng = np.random.default_rng(0)
    for m, p in ((127, 0.001), (511, 0.004), (1023, 0.002)):
        wrong = rng.binomial(m, p, size=20000)
        s = slips.slip_stats([lengths(wrong, m)], 1024)
        assert abs(s["poisson"] - s["exact"]) < 0.01, (m, p, s)
    clustered = np.where(rng.random(20000) < 0.2, 10, 0)  # the same mean, all in a fifth of the sequences
    s = slips.slip_stats([lengths(clustered, 511)], 1024)
    assert s["exact"] > s["poisson"] + 0.5


def test_needed_rate_turns_a_bar_into_a_slip_rate():
    for bar, m in ((0.95, 511), (0.5, 127)):
        assert math.exp(-slips.needed_rate(bar, m) * m) == pytest.approx(bar)
    assert slips.needed_rate(0.95, 511) < slips.needed_rate(0.95, 127)


def test_slip_lines_keep_only_rows_that_extrapolate_per_token_and_have_every_seed():
    ev = {("copy", "good", 0): lengths([0, 1], 511) | lengths([0, 0], 127, L=256),
          ("copy", "good", 1): lengths([2, 0], 511) | lengths([0, 1], 127, L=256),
          ("copy", "weak", 0): lengths([300, 400], 511) | lengths([0, 0], 127, L=256),
          ("copy", "weak", 1): lengths([300, 400], 511) | lengths([0, 0], 127, L=256),
          ("copy", "one_seed", 0): lengths([0, 0], 511) | lengths([0, 0], 127, L=256)}
    out = slips.slip_lines(ev, "copy", ["good", "weak", "one_seed"], [0, 1], [256, 1024], 0.95, 1024)
    text = "\n".join(out)
    assert "| good |" in text and "| weak |" not in text and "| one_seed |" not in text
    assert "(511 targets) needs a slip rate under 0.010 %" in text
    assert "| good | 0.25 (0.20 %) -> " in text and "copy, slips at 1024: lowest per-target error rate good" in text
    assert slips.slip_lines(ev, "copy", ["weak"], [0, 1], [256, 1024], 0.95, 1024) == []
