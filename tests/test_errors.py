"""Where the errors are (analysis/errors.py, reporting/errors.py): recorded from the scoring passes themselves,
consistent with the per-sequence counts and with the 2-token rule, and read only where intervals separate."""

import dataclasses

import numpy as np
import pytest
import torch

from posenc.analysis import baselines
from posenc.analysis.errors import error_profile, pair_ambiguous, recorded_predictions, span_parts, targets_right
from posenc.analysis.evaluate import evaluate_lm
from posenc.engine import lm
from posenc.engine.runtime import resolve
from posenc.reporting import errors, errors_text
from test_train import splits_for


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


@pytest.mark.parametrize("task", ["copy", "duplicate", "copy_blank", "copy_start"])
def test_the_pair_mask_is_where_the_two_token_rule_is_wrong(tiny_cfg, task):
    sources = splits_for(tiny_cfg, task)["eval_32"]
    mask = pair_ambiguous(sources, task, tiny_cfg.synthetic.vocab_size)
    rule = baselines.score_rule(sources, task, tiny_cfg.synthetic.vocab_size, baselines.RULES["lookup2"])
    assert mask.shape[0] == len(sources) and 1 - mask.mean() == pytest.approx(rule["token_acc"])


@pytest.mark.parametrize("pe", ["learned", "rope_rand"])
def test_recorded_predictions_give_the_same_right_counts_as_the_scoring(tiny_cfg, pe):
    """Per target, from the very forward passes of score_sequences (a randomized PE: the mean over its draws)."""
    tiny_cfg = dataclasses.replace(tiny_cfg, evaluate=dataclasses.replace(tiny_cfg.evaluate, batch_size=2))
    torch.manual_seed(0)
    model = lm.build_model(lm.lm_spec(tiny_cfg, pe))
    sources = splits_for(tiny_cfg, "copy")["eval_32"]
    rt = resolve("float32")
    with recorded_predictions(model) as preds:
        sc = lm.score_sequences(model, sources, "copy", tiny_cfg, rt, draws=2)
    right_at = targets_right(preds, sources, "copy", tiny_cfg.synthetic.vocab_size, tiny_cfg.evaluate.batch_size)
    assert right_at.shape == (len(sources), int(sc["targets"][0]))
    np.testing.assert_allclose(right_at.sum(1), sc["right"])
    with pytest.raises(ValueError, match="recorded passes"):
        targets_right(preds[:-1], sources, "copy", tiny_cfg.synthetic.vocab_size, tiny_cfg.evaluate.batch_size)
    n = len(preds)
    model(torch.zeros(1, 4, dtype=torch.long))
    assert len(preds) == n  # the hook is gone after the block: nothing more is recorded


def test_evaluation_records_the_span_at_the_requested_lengths_only(tiny_cfg):
    torch.manual_seed(0)
    model = lm.build_model(lm.lm_spec(tiny_cfg, "alibi"))
    splits = splits_for(tiny_cfg, "copy")
    pairs = {32: pair_ambiguous(splits["eval_32"], "copy", tiny_cfg.synthetic.vocab_size)}
    out = evaluate_lm(model, splits, "copy", tiny_cfg, [16, 32], resolve("float32"), pairs=pairs)
    assert "span_targets" not in out["16"] and sum(out["32"]["span_targets"]) == out["32"]["targets"]
    ps = out["32"]["per_seq"]
    np.testing.assert_allclose(np.sum(ps["right_by_part"], axis=1), ps["right"])
    wrong = out["32"]["targets"] - np.asarray(ps["right"])
    assert (np.asarray(ps["wrong_at_pairs"]) <= np.minimum(ps["pairs"], wrong) + 1e-9).all()


def test_span_parts_cover_every_target_once_in_order():
    for n in (3, 8, 127, 254):
        parts = span_parts(n)
        assert len(parts) == min(8, n) and np.concatenate(parts).tolist() == list(range(n))
    with pytest.raises(ValueError, match="differ"):
        error_profile(np.ones((2, 5)), np.zeros((2, 4), dtype=bool))


def evaluation(right_at: np.ndarray, pairs: np.ndarray) -> dict:
    """One length's evaluation entry as analysis/evaluate.py writes it, from a chosen right/wrong pattern."""
    profile = error_profile(right_at, pairs)
    return {"targets": right_at.shape[1], "span_targets": profile["span_targets"],
            "per_seq": {"right": right_at.sum(1).tolist(), **profile["per_seq"]}}


def test_errors_at_the_end_of_the_span_are_read_as_such():
    rng = np.random.default_rng(0)
    right = np.ones((64, 40))
    right[:, 35:] = rng.random((64, 5)) < 0.3  # wrong mostly on the last eighth
    pairs = np.zeros_like(right, dtype=bool)
    pairs[:, 3] = True
    row = errors.profile_row([evaluation(right, pairs)])
    assert row["span"][0] == 1.0 and row["span"][-1] < 0.5 and row["errors_at_pairs"] == 0.0
    text = errors_text.sentence(row, "copy", 256, pct, 100)
    assert "lower on the last eighth than on the first" in text and "fewer than their share" in text
    assert "the first, predicted at positions 127-142" in text and "the last, at 239-253" in text


def test_errors_at_repeated_pairs_are_read_as_content_matching():
    rng = np.random.default_rng(1)
    pairs = rng.random((64, 40)) < 0.05
    right = np.where(pairs, rng.random((64, 40)) < 0.5, 1.0)  # wrong only at repeated pairs, anywhere in the span
    row = errors.profile_row([evaluation(right, pairs)])
    assert row["errors_at_pairs"] == 1.0 and row["pair_share"] == pytest.approx(pairs.mean())
    text = errors_text.sentence(row, "copy", 256, pct, 100)
    assert "most of the errors" in text and "signature of copying by content" in text and "no end of the span" in text
    few = {**row, "errors_at_pairs": 0.2, "errors_at_pairs_ci": [0.1, 0.3], "pair_share": 0.05}
    assert "(x4.0), yet most errors lie elsewhere" in errors_text.pair_reading(few)


def test_uniform_errors_are_not_read_as_either_and_seeds_give_t_intervals():
    rng = np.random.default_rng(2)
    pairs = rng.random((64, 40)) < 0.05
    evs = [evaluation((rng.random((64, 40)) < 0.9).astype(float), pairs) for _ in range(3)]
    row = errors.profile_row(evs)
    lo, hi = row["errors_at_pairs_ci"]
    assert lo <= row["pair_share"] <= hi  # three seeds: a t interval over their shares
    assert "does not explain most of them" in errors_text.pair_reading(row) and "no end" in errors_text.span_reading(row)
    handful = {**row, "errors_at_pairs": 0.125, "errors_at_pairs_ci": [0.0, 0.6], "pair_share": 0.05}
    assert "too few wrong targets to tell" in errors_text.pair_reading(handful)  # 1 of 8 wrong, say
    perfect = errors.profile_row([evaluation(np.ones((8, 16)), np.zeros((8, 16), dtype=bool))])
    assert errors_text.sentence(perfect, "copy", 256, pct, 100).endswith("there are none.")


def test_no_wrong_target_at_a_pair_among_few_is_not_read_as_fewer_than_their_share():
    """0 of 40 wrong targets at repeated pairs (2.5 % of the targets): the bootstrap collapses to [0, 0], which
    would call them fewer than their share; the pooled Wilson interval (up to 9 %) says that 40 cannot tell."""
    right = np.ones((64, 40))
    right[:40, 20] = 0  # 40 wrong targets, none at a pair
    pairs = np.zeros_like(right, dtype=bool)
    pairs[:, 3] = True
    row = errors.profile_row([evaluation(right, pairs)])
    lo, hi = row["errors_at_pairs_ci"]
    assert row["errors_at_pairs"] == 0.0 and lo == 0.0 and hi == pytest.approx(0.0876, abs=1e-3)
    assert "fewer than their share" not in errors_text.pair_reading(row)
    assert "no more than their share beyond noise (at most 9 % of the errors" in errors_text.pair_reading(row)
    assert row["span_ci"][0][0] < 1.0 == row["span"][0]  # a perfect eighth: Wilson over its 320 targets, not [1, 1]
