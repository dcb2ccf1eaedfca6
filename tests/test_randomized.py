"""Randomized positions (Ruoss et al. 2023; nn/pe/_randomized.py): what the draws are, when they are
random and when seeded, and that scoring averages over seeded draws."""

import numpy as np
import pytest
import torch

from conftest import tiny_spec
from posenc.nn.backbone import build_model
from posenc.nn.pe import available, pe_class
from posenc.nn.pe._randomized import draw

RANDOMIZED = [pe for pe in available() if pe_class(pe).randomized]


def make(pe, head="lm", seed=0):
    torch.manual_seed(seed)
    return build_model(tiny_spec(pe, head))  # max_positions 64, train_max_len 16


def test_every_position_consuming_pe_has_a_randomized_variant_and_shares_its_params():
    assert {"rope_rand", "sinusoidal_rand"} <= set(RANDOMIZED)
    for pe in RANDOMIZED:
        parent = pe_class(pe.removesuffix("_rand"))
        assert issubclass(pe_class(pe), parent) and pe_class(pe).Params is parent.Params
        assert pe_class(pe).eval_variants == ()  # every position up to R was seen: nothing to rescale


@pytest.mark.parametrize("offset", [0, 5])
def test_a_draw_is_a_sorted_subset_of_the_range(offset):
    g = torch.Generator().manual_seed(1)
    for T in (1, 7, 64 - offset):
        p = draw(T, offset, 64, g)
        assert len(p) == T and len(set(p.tolist())) == T
        assert bool((p[1:] > p[:-1]).all()) and int(p.min()) >= offset and int(p.max()) < 64
    assert torch.equal(draw(64 - offset, offset, 64, g), torch.arange(offset, 64))  # the whole range: no gaps


@pytest.mark.parametrize("pe", RANDOMIZED)
def test_training_draws_vary_and_reach_past_the_training_length(pe):
    model = make(pe).train()
    draws = [model.positions(16, "cpu") for _ in range(20)]
    assert len({tuple(d.tolist()) for d in draws}) > 1
    assert max(int(d.max()) for d in draws) >= 16  # positions a plain PE never sees at train_max_len 16


@pytest.mark.parametrize("pe", RANDOMIZED)
def test_evaluation_draws_are_seeded_deterministic_and_leave_the_global_generator_alone(pe):
    model = make(pe).eval()
    idx = torch.randint(0, 12, (2, 16))
    state = torch.get_rng_state()
    a, b = model(idx), model(idx)
    assert torch.equal(a, b) and torch.equal(torch.get_rng_state(), state)
    model.position_seed = 1
    assert not torch.equal(model.positions(16, "cpu"), make(pe).eval().positions(16, "cpu"))
    assert not torch.allclose(model(idx), a)


@pytest.mark.parametrize("pe", RANDOMIZED)
def test_a_padded_batch_draws_each_sequence_from_its_own_length(pe):
    """The classifier's batches are padded: sequence b's positions come from its real length (the same as
    alone in a batch of one, for b = 0) and its pads continue after them, within the range."""
    model = make(pe, "classifier").eval()
    mask = torch.tensor([[1] * 9 + [0] * 4, [1] * 13])
    pos = model.positions(13, "cpu", attention_mask=mask)
    assert pos.shape == (2, 13)
    assert torch.equal(pos[0, :9], model.positions(9, "cpu"))
    assert bool((pos[:, 1:] > pos[:, :-1]).all()) and int(pos.max()) < 64


def test_scoring_averages_the_seeded_draws(tiny_params_dict):
    """score_sequences of a randomized PE = the mean of its single-draw scores over evaluate.position_draws
    seeds; a plain PE is scored once, with integer counts as before."""
    from posenc import config
    from posenc.data import synthetic
    from posenc.engine import lm
    from posenc.engine.runtime import resolve

    tiny_params_dict["evaluate"]["position_draws"] = 3
    cfg = config.from_dict(tiny_params_dict)
    arrays = synthetic.generate(cfg.synthetic, "copy", cfg.seed)
    L = cfg.synthetic.eval_lengths[-1]
    sources = synthetic.Sources(arrays[f"eval_{L}_lengths"].astype(np.int64), arrays[f"eval_{L}_tokens"])
    rt = resolve("float32", "cpu")
    torch.manual_seed(0)
    model = build_model(lm.lm_spec(cfg, "rope_rand"))
    mean = lm.score_sequences(model, sources, "copy", cfg, rt)
    one = dict(tiny_params_dict, evaluate={**tiny_params_dict["evaluate"], "position_draws": 1})
    singles = []
    for seed in range(3):
        model.draw_seeds = lambda n, s=seed: range(s, s + 1)  # noqa: E731  one seed at a time
        singles.append(lm.score_sequences(model, sources, "copy", config.from_dict(one), rt))
    for key in mean:
        assert np.allclose(mean[key], np.mean([s[key] for s in singles], axis=0))
    assert len({s["loss_sum"].tobytes() for s in singles}) == 3  # the draws differ
    plain = lm.score_sequences(build_model(lm.lm_spec(cfg, "rope")), sources, "copy", cfg, rt)
    assert plain["right"].dtype.kind == "i"
