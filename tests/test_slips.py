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


def test_keys_count_every_position_a_target_query_sees():
    # copy with n = 4: [a1..a4, SEP, a1..a4], 9 tokens; the 4 targets are predicted at positions 4..7,
    # whose queries see 5, 6, 7, 8 keys
    assert slips.mean_keys(9, 4) == 6.5
    assert slips.mean_keys(13, 8) == 8.5  # duplicate, n = 4: targets predicted at positions 4..11


def test_key_rates_split_the_repeated_pairs_from_the_other_errors():
    per_seq = {"right": [4, 3, 2, 4], "wrong_at_pairs": [0, 1, 0, 0], "pairs": [1, 2, 0, 0]}
    r = slips.key_rates({"n_seqs": 4, "targets": 4, "seq_len": 9, "per_seq": per_seq})
    assert r["pair_error"] == pytest.approx(1 / 3) and r["other_error"] == pytest.approx(2 / 13)
    assert r["per_key"] == pytest.approx(2 / 13 / 6.5) and r["pair_targets"] == 3
    assert slips.key_rates({"n_seqs": 4, "targets": 4, "seq_len": 9, "per_seq": {"right": [4] * 4}}) is None


def test_predicted_exact_scales_other_errors_by_keys_and_pair_errors_by_pairs():
    base = {"per_key": 1e-4, "pair_error": 0.1}
    longer = {"keys": 300.0, "pair_targets": 40}
    ev = {"n_seqs": 10, "targets": 200}
    assert slips.predicted_exact(base, longer, ev) == pytest.approx(math.exp(-(1e-4 * 300 * 200 + 0.4)))
    assert slips.predicted_exact({**base, "pair_error": None}, longer, ev) == pytest.approx(math.exp(-6.0))


def keyed(per_key: float, L: int, n_seqs: int = 50) -> dict:
    """One seed's copy evaluation at length L whose errors (none at repeated pairs) are per_key per key."""
    targets = (L - 1) // 2
    other = per_key * slips.mean_keys(L, targets)
    right = [targets * (1 - other)] * n_seqs  # a mean over draws may be fractional
    return {str(L): {"n_seqs": n_seqs, "targets": targets, "seq_len": L, "exact_match": math.exp(-other * targets),
                     "per_seq": {"right": right, "wrong_at_pairs": [0.0] * n_seqs, "pairs": [0] * n_seqs}}}


def test_key_verdict_tells_a_constant_rate_per_key_from_a_rising_one():
    flat = {("copy", "m", s): keyed(2e-6 * f, 256) | keyed(2e-6 * g, 1024)
            for s, (f, g) in enumerate([(1.0, 0.9), (1.2, 1.3), (0.8, 0.85)])}
    line = slips.key_verdict(flat, "copy", "m", [0, 1, 2], 256, 0.95, 1024)
    assert "consistent with a constant rate per key" in line and "2.00e-6 at 256, 2.03e-6 at 1024" in line
    assert "(192 keys at 256, 768 at 1024)" in line
    exact = np.mean([flat[("copy", "m", s)]["1024"]["exact_match"] for s in range(3)])
    assert f"(measured {100 * exact:.1f} %)" in line
    predicted = np.mean([math.exp(-2e-6 * f * 768 * 511) for f in (1.0, 1.2, 0.8)])  # 256's rates, 1024's keys
    assert f"would be {100 * predicted:.1f} %" in line
    assert f"under {1e6 * slips.needed_rate(0.95, 511) / 768:.2f}e-6" in line
    rising = {("copy", "m", s): keyed(2e-6, 256) | keyed(2e-6 * g, 1024) for s, g in enumerate([3.0, 3.3, 2.8])}
    assert "rising" in slips.key_verdict(rising, "copy", "m", [0, 1, 2], 256, 0.95, 1024)
    # seeds at x0.2, x1 and x9: the interval holds x1 but also a halving and a doubling, so it says nothing
    scattered = {("copy", "m", s): keyed(2e-6, 256) | keyed(2e-6 * g, 1024) for s, g in enumerate([0.2, 1.0, 9.0])}
    line = slips.key_verdict(scattered, "copy", "m", [0, 1, 2], 256, 0.95, 1024)
    assert "too wide to tell" in line and "consistent with" not in line and "[0.00," in line
    assert "from one that halves or doubles" in line
    # an interval that holds x1 and a halving but not a doubling names the halving only
    assert slips.ratio_shape(0.17, 1.26, 4.0).endswith("from one that halves")
    assert slips.ratio_shape(0.6, 2.5, 4.0).endswith("from one that doubles")
    # falling per key (x4 the keys at 1024): per target fewer (x0.4), more (x2), or either within the seeds' noise
    for gs, says in [((0.1, 0.12, 0.09), "falling: fewer errors per target at the longer length, with more keys"),
                     ((0.5, 0.55, 0.45), "falling: the errors per target grow with the length, but more slowly than "
                                         "the number of keys"),
                     ((0.2, 0.3, 0.25), "falling: the errors per target grow, if at all, more slowly than the number")]:
        falling = {("copy", "m", s): keyed(2e-6, 256) | keyed(2e-6 * g, 1024) for s, g in enumerate(gs)}
        assert says in slips.key_verdict(falling, "copy", "m", [0, 1, 2], 256, 0.95, 1024)
    bare = {k: {L: {**e, "per_seq": {"right": e["per_seq"]["right"]}} for L, e in v.items()} for k, v in flat.items()}
    assert slips.key_verdict(bare, "copy", "m", [0, 1, 2], 256, 0.95, 1024) == ""  # no pair records
