"""Claims gated by intervals (issue 15): intervals, Holm, paired comparisons, and every ordering
sentence of the report checked against the paired comparisons."""

import re

import numpy as np
import pytest

from posenc.reporting import claims, stats

PES = ["sinusoidal", "learned", "rope", "alibi"]


def test_holm_adjusts_in_step_down_order():
    # Holm 1979: sorted p (0.01, 0.02, 0.04) x (3, 2, 1) -> 0.03, 0.04, 0.04 (monotone)
    assert stats.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert stats.holm([0.5, float("nan")])[0] == 0.5 and np.isnan(stats.holm([0.5, float("nan")])[1])
    assert stats.holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # 2 x 0.8 capped at 1, then monotone


def test_t_interval_and_bootstrap_cover_the_mean_and_shrink_with_agreement():
    lo, hi = stats.t_interval([0.5, 0.6, 0.7])
    assert lo < 0.6 < hi and hi - lo == pytest.approx(2 * 4.302653 * 0.1 / np.sqrt(3), rel=1e-5)
    tight = stats.t_interval([0.6, 0.6001, 0.5999])
    assert tight[1] - tight[0] < hi - lo
    items = np.array([[1, 0] * 50], dtype=float)  # one seed, 100 items, mean 0.5
    mean = lambda x: x.mean(axis=(1, 2))  # noqa: E731  (B, S, N) -> (B,)
    blo, bhi = stats.bootstrap_interval(items, mean)
    assert blo < 0.5 < bhi and 0.15 < bhi - blo < 0.25  # about 2 x 1.96 x sqrt(0.25 / 100)
    assert stats.bootstrap_interval(items, mean) == [blo, bhi]  # seeded


def test_t_interval_of_a_share_stays_in_zero_to_one_and_is_unchanged_inside():
    wide = [0.05, 0.95]  # two seeds far apart: the plain t interval reaches below 0 and above 1
    lo, hi = stats.t_interval(wide)
    assert lo < 0 and hi > 1
    assert stats.t_interval(wide, stats.SHARE) == [0.0, 1.0]
    high = [0.97, 0.99, 1.0]  # only the upper end crosses 1
    raw, clipped = stats.t_interval(high), stats.t_interval(high, stats.SHARE)
    assert raw[1] > 1 and clipped == [raw[0], 1.0]
    assert stats.t_interval([0.5, 0.6, 0.7], stats.SHARE) == stats.t_interval([0.5, 0.6, 0.7])


def test_a_share_interval_collapsed_to_a_point_becomes_the_pooled_wilson_interval():
    none = np.zeros((1, 256))  # one seed, no sequence of 256 copied: the bootstrap can only say [0, 0]
    point = stats.bootstrap_interval(none, lambda x: x.mean(axis=(1, 2)))
    assert point == [0.0, 0.0]
    lo, hi = stats.share_interval(point, 0, 256)
    assert lo == 0.0 and hi == pytest.approx(stats.proportion_interval(0, 256)[1]) and 0.01 < hi < 0.02
    assert stats.share_interval(stats.t_interval([1.0, 1.0, 1.0], stats.SHARE), 768, 768)[0] < 1.0  # seeds too
    assert stats.share_interval([0.4, 0.6], 128, 256) == [0.4, 0.6]  # an interval that is not a point stays
    assert np.isnan(stats.share_interval([float("nan")] * 2, 0, 256)).all()


def test_bootstrap_scores_each_resample_as_a_loop_over_resamples_would():
    # The statistic sees all resamples at once; the interval must be the one a plain loop over the same
    # resamples gives, also when the resamples are scored in several chunks.
    rng = np.random.default_rng(3)
    items = rng.random((2, 37, 3))  # (S, N, 3)
    stat = lambda x: (x[..., 0] * x[..., 1] - x[..., 2]).mean(axis=(1, 2))  # noqa: E731
    idx = np.random.default_rng(0).integers(0, 37, (stats.N_BOOT, 37))
    loop = [float(stat(items[:, i][None])[0]) for i in idx]
    want = np.nanpercentile(loop, [2.5, 97.5])
    assert stats.bootstrap_interval(items, stat) == pytest.approx(want, rel=1e-12)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stats, "BOOT_CHUNK", 500)  # many chunks
        assert stats.bootstrap_interval(items, stat) == pytest.approx(want, rel=1e-12)


def results_with(exact_32: dict[str, list[float]]):
    """Three seeds; only exact_32 differs between PEs (everything else equal, so never separated)."""
    row = lambda pe: {"per_seed": {"exact_32": exact_32[pe], "acc_32": [0.5, 0.5, 0.5]}}  # noqa: E731
    return {"seeds": [0, 1, 2], "tasks": {"copy": {pe: row(pe) for pe in PES}}}


def test_a_consistent_gap_is_separated_and_noise_is_not():
    res = results_with({"alibi": [0.90, 0.92, 0.91], "rope": [0.10, 0.13, 0.11],
                        "sinusoidal": [0.30, 0.60, 0.10], "learned": [0.35, 0.20, 0.40]})
    comps = claims.comparisons(res, [32])
    by = {(frozenset((c["a"], c["b"])), c["metric"]): c for c in comps}
    assert by[(frozenset(("alibi", "rope")), "exact")]["separated"]
    assert by[(frozenset(("alibi", "rope")), "exact")]["a"] == "alibi"
    assert not by[(frozenset(("learned", "sinusoidal")), "exact")]["separated"]
    assert not any(c["separated"] for c in comps if c["metric"] == "acc")  # identical values
    assert all(c["p_holm"] >= c["p"] for c in comps)


def test_fewer_than_three_seeds_rank_nothing():
    res = results_with({pe: [v] for pe, v in zip(PES, (0.1, 0.5, 0.9, 0.99))})
    res["seeds"] = [0]
    comps = claims.comparisons(res, [32])
    assert not any(c["separated"] for c in comps)
    assert "no ranking is claimed" in claims.sentence(res, comps, "copy", "exact", 32)


def test_every_ordering_sentence_is_a_separated_paired_comparison():
    res = results_with({"alibi": [0.90, 0.92, 0.91], "rope": [0.10, 0.13, 0.11],
                        "sinusoidal": [0.50, 0.52, 0.51], "learned": [0.35, 0.20, 0.40]})
    comps = claims.comparisons(res, [32])
    text = claims.sentence(res, comps, "copy", "exact", 32)
    said = re.findall(r"(\w+) > (\w+)", text)
    separated = {(c["a"], c["b"]) for c in comps if c["separated"] and c["metric"] == "exact"}
    assert said and set(said) == separated
    rest = 6 - len(separated)  # 4 PEs, 6 pairs; one left within noise reads "the other pair", not "1 pair"
    assert rest and (f"the other {rest} pairs are" if rest > 1 else "the other pair is") + " within noise" in text
    assert "within noise" in claims.sentence(res, comps, "copy", "acc", 32)


def test_a_gap_lost_to_the_correction_is_named_as_a_lack_of_seeds_not_equal_pes():
    res = results_with({"alibi": [0.90, 0.60, 0.75], "rope": [0.10, 0.13, 0.11],
                        "sinusoidal": [0.30, 0.60, 0.10], "learned": [0.35, 0.20, 0.40]})
    comps = claims.comparisons(res, [32])
    gap = next(c for c in comps if c["metric"] == "exact" and {c["a"], c["b"]} == {"alibi", "rope"})
    assert gap["p"] < claims.ALPHA and not gap["separated"]  # alone it would pass; Holm over the family does not
    text = claims.sentence(res, comps, "copy", "exact", 32)
    assert "every difference between PEs is within noise" in text
    assert f"of those, alibi and rope differ by {claims.points(gap['diff'])} points with p = {gap['p']:.2g}" in text
    noisy = results_with({"alibi": [0.9, 0.1, 0.5], "rope": [0.2, 0.8, 0.5], "sinusoidal": [0.3, 0.6, 0.1],
                          "learned": [0.6, 0.2, 0.4]})
    assert "of those" not in claims.sentence(noisy, claims.comparisons(noisy, [32]), "copy", "exact", 32)
    res["tasks"]["copy_blank"] = {pe: {"per_seed": {"exact_32": [0.1, 0.13, 0.11], "acc_32": [0.5, 0.5, 0.5]}}
                                  for pe in PES}  # alibi's formats differ as alibi and rope did above
    comps = claims.comparisons(res, [32], formats_at=(32,))
    fmt = next(c for c in comps if c.get("pe") == "alibi" and c["metric"] == "exact")
    assert fmt["p"] < claims.ALPHA and not fmt["separated"]
    text = claims.format_sentence(res, comps, "copy", "copy_blank", "exact", 32)
    assert f"of those, alibi's copy and copy_blank differ by {claims.points(fmt['diff'])} points" in text


def test_the_two_formats_of_a_task_are_compared_per_pe_in_the_same_holm_family():
    """copy vs copy_blank: rope's formats differ consistently across seeds, alibi's only by noise."""
    def row(exact):
        return {"per_seed": {"exact_32": exact, "acc_32": [0.5, 0.5, 0.5]}}
    res = {"seeds": [0, 1, 2], "tasks": {
        "copy": {"rope": row([0.95, 0.96, 0.97]), "alibi": row([0.5, 0.9, 0.1])},
        "copy_blank": {"rope": row([0.05, 0.04, 0.06]), "alibi": row([0.4, 0.2, 0.6])}}}
    assert claims.format_pairs(res) == [("copy", "copy_blank")]
    plain = claims.comparisons(res, [32])
    comps = claims.comparisons(res, [32], formats_at=(32,))
    fmt = [c for c in comps if c["task"] == "copy/copy_blank"]
    assert len(fmt) == 4 and len(comps) == len(plain) + 4  # 2 PEs x 2 metrics, one Holm family with the PE pairs
    assert all(c["p_holm"] >= c["p"] for c in comps)
    text = claims.format_sentence(res, comps, "copy", "copy_blank", "exact", 32)
    said = re.findall(r"(\w+): (\w+) > (\w+)", text)
    separated = {(c["pe"], c["a"], c["b"]) for c in fmt if c["separated"] and c["metric"] == "exact"}
    assert said and set(said) == separated == {("rope", "copy", "copy_blank")}
    assert "for the other PE the formats are within noise" in text
    assert "within noise" in claims.format_sentence(res, comps, "copy", "copy_blank", "acc", 32)
    res["tasks"]["copy_start"] = res["tasks"]["copy"]  # a start token is another format of copy, too
    assert claims.format_pairs(res) == [("copy", "copy_blank"), ("copy", "copy_start")]
    assert claims.plain_task("duplicate_start") == "duplicate" and claims.plain_task("copy") is None
    del res["tasks"]["copy_start"]
    res["seeds"] = [0]
    one = {"seeds": [0], "tasks": {t: {pe: {"per_seed": {k: v[:1] for k, v in r["per_seed"].items()}}
                                       for pe, r in rows.items()} for t, rows in res["tasks"].items()}}
    comps = claims.comparisons(one, [32], formats_at=(32,))
    assert "neither format is ranked" in claims.format_sentence(one, comps, "copy", "copy_blank", "exact", 32)
    assert not any(c["separated"] for c in comps)


def test_a_difference_under_a_tenth_of_a_point_keeps_two_significant_digits():
    assert claims.points(0.047) == "4.7" and claims.points(-0.001) == "-0.1"
    assert claims.points(0.0000512) == "0.0051" and claims.points(0.0) == "0"
