"""Probes: gradient norms, attention entropy and source mass are finite, correctly shaped and
agree with their definitions; a model forced to NaN is recorded as NaN and its stage succeeds."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from posenc.data.fake_imdb import write_archive
from posenc import io
from posenc.analysis import probes, probes_imdb, probes_lm
from posenc.artifacts import Layout
from posenc.data import imdb, synthetic
from posenc.engine.classify import classifier_spec
from posenc.engine.lm import lm_spec
from posenc.nn.backbone import build_model
from posenc.nn.checkpoint import save_model
from posenc.nn.pe import available
from test_train import splits_for

PES = available()


def tiny_lm(cfg, pe):
    torch.manual_seed(0)
    return build_model(lm_spec(cfg, pe))


def run_probe(cfg, model, task="copy"):
    p = cfg.probe
    lengths = synthetic.eval_lengths(cfg.synthetic)
    return probes_lm.probe_lm(model, splits_for(cfg, task), task, cfg.synthetic.vocab_size, list(p.lengths),
                           lengths, list(p.map_lengths), p.batch_size)


@pytest.mark.parametrize("pe", PES)
def test_lm_probes_are_finite_and_shaped(tiny_cfg, pe):
    model = tiny_lm(tiny_cfg, pe)
    metrics, maps = run_probe(tiny_cfg, model)
    m = tiny_cfg.model
    components = {"embedding", "head"} | {f"layer{i}.{k}" for i in range(m.n_layers) for k in ("attn", "ffn", "norm")}
    assert set(metrics["gradients"]) == {str(L) for L in tiny_cfg.probe.lengths}
    for g in metrics["gradients"].values():
        assert set(g["grad_norm"]) == components and g["nonfinite"] == 0 and math.isfinite(g["loss"])
        assert all(v >= 0 and math.isfinite(v) for v in g["grad_norm"].values())
        assert g["grad_norm"]["layer0.attn"] > 0
        # the components partition the layer: their squared norms add up to the layer's
        layer = math.sqrt(sum(g["grad_norm"][f"layer0.{k}"] ** 2 for k in ("attn", "ffn", "norm")))
        assert layer == pytest.approx(g["layer_grad_norm"]["layer0"], rel=1e-6)
    assert set(metrics["attention"]) == {str(L) for L in synthetic.eval_lengths(tiny_cfg.synthetic)}
    for a in metrics["attention"].values():
        assert len(a["entropy"]) == len(a["entropy_norm"]) == m.n_layers
        assert all(0.0 <= e <= 1.0 + 1e-9 for e in a["entropy_norm"])
        assert len(a["source_mass"]) == m.n_layers and all(len(h) == m.n_heads for h in a["source_mass"])
        assert all(0.0 <= x <= 1.0 for h in a["source_mass"] for x in h)
    for L in tiny_cfg.probe.map_lengths:
        w = maps[f"attn_{L}"]
        T = synthetic.total_length("copy", int(maps[f"n_{L}"]))
        assert w.dtype == np.float16 and w.shape == (m.n_layers, m.n_heads, T, T)
        assert np.allclose(w.astype(np.float32).sum(-1), 1.0, atol=1e-2)
        assert np.all(np.triu(w.astype(np.float32), k=1) == 0)  # causal: no weight on future keys


def test_probe_does_not_change_the_model_and_is_deterministic(tiny_cfg):
    model = tiny_lm(tiny_cfg, "rope")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    a, _ = run_probe(tiny_cfg, model)
    b, _ = run_probe(tiny_cfg, model)
    assert a == b
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_entropy_of_uniform_and_one_hot_attention():
    T = 6
    uniform = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]  # row t: 1/(t+1) on keys 0..t
    one_hot = torch.eye(T)
    n_keys = torch.arange(1, T + 1)[None]
    queries = torch.ones(1, T, dtype=torch.bool)
    u = probes.attention_entropy([uniform[None, None]], queries, n_keys)
    expected = float(np.mean([math.log(k) for k in range(2, T + 1)]))  # rows with one key are skipped
    assert u["entropy"][0] == pytest.approx(expected) and u["entropy_norm"][0] == pytest.approx(1.0)
    o = probes.attention_entropy([one_hot[None, None]], queries, n_keys)
    assert o["entropy"][0] == pytest.approx(0.0) and o["entropy_norm"][0] == pytest.approx(0.0)


def test_source_mass_finds_the_position_copy_must_read():
    n = 5
    T = 2 * n + 1
    w = torch.zeros(1, 2, T, T)
    for t in range(n, 2 * n):
        w[0, 0, t, t - n] = 1.0  # head 0 reads the source token
        w[0, 1, t, t] = 1.0  # head 1 looks at itself
    assert probes.source_mass([w], n) == [[1.0, 0.0]]


def test_a_model_forced_to_nan_is_recorded_not_raised(tiny_cfg):
    model = tiny_lm(tiny_cfg, "learned")
    with torch.no_grad():
        model.blocks[0].attn.qkv.weight[0, 0] = float("inf")
    metrics, _ = run_probe(tiny_cfg, model)
    for g in metrics["gradients"].values():
        assert math.isnan(g["loss"]) and g["nonfinite"] > 0
        assert math.isnan(g["grad_norm"]["layer0.attn"])
    assert any(math.isnan(e) for a in metrics["attention"].values() for e in a["entropy"])


def test_probe_stage_succeeds_on_a_nan_model_and_writes_nan(tmp_path, tiny_cfg, tiny_params_dict):
    import yaml

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({**tiny_params_dict, "pes": ["alibi"]}))
    layout = Layout(tmp_path)
    io.save_npz(layout.synthetic_data("copy"), synthetic.generate(tiny_cfg.synthetic, "copy", tiny_cfg.seed))
    model = tiny_lm(tiny_cfg, "alibi")
    state = model.state_dict()
    state["head.weight"][0, 0] = float("inf")
    save_model(layout.checkpoint("copy", "alibi"), model, state, task="copy")
    out, maps = layout.probe_json("copy", "alibi"), layout.attention_maps("copy", "alibi")
    proc = subprocess.run([sys.executable, str(ROOT / "stages/probe.py"), "--params", str(params), "--root",
                           str(tmp_path), "--task", "copy", "--pe", "alibi", "--seed", "0"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    written = json.loads(out.read_text())
    assert all(math.isnan(g["loss"]) and g["nonfinite"] > 0 for g in written["gradients"].values())
    assert set(np.load(maps)) >= {f"attn_{L}" for L in tiny_cfg.probe.map_lengths}


def test_probe_stage_bad_checkpoint_is_one_line_and_writes_nothing(tmp_path):
    layout = Layout(tmp_path)
    layout.checkpoint("copy", "rope").parent.mkdir(parents=True)
    layout.checkpoint("copy", "rope").write_bytes(b"nope")
    proc = subprocess.run([sys.executable, str(ROOT / "stages/probe.py"), "--params", str(ROOT / "params.yaml"),
                           "--root", str(tmp_path), "--task", "copy", "--pe", "rope", "--seed", "0"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert "copy_rope_s0.pt: corrupt checkpoint" in proc.stderr
    assert not layout.probe_json("copy", "rope").exists() and not layout.attention_maps("copy", "rope").exists()


# ---------------------------------------------------------------- IMDb classifiers

def test_probe_batch_is_balanced_long_and_fixed():
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 3000, size=400)
    labels = rng.integers(0, 2, size=400)
    idx = probes_imdb.probe_batch_indices(lengths, labels, 1024, 8)
    assert len(idx) == 8 and len(set(idx.tolist())) == 8
    assert (lengths[idx] > 1024).all() and labels[idx].sum() == 4
    assert (idx == probes_imdb.probe_batch_indices(lengths, labels, 1024, 8)).all()
    short = probes_imdb.probe_batch_indices(np.full(10, 5), labels[:10], 1024, 4)  # none long enough: still a batch
    assert len(short) == 4


@pytest.mark.parametrize("pe", ["learned", "alibi"])
def test_classifier_probes_are_finite(tmp_path, tiny_cfg, pe):
    import dataclasses

    cfg = dataclasses.replace(tiny_cfg.imdb, archive=str(write_archive(tmp_path / "a.tar.gz")), url="", hub_dataset="")
    tok, splits, _ = imdb.prepare(cfg, tiny_cfg.seed)
    torch.manual_seed(0)
    model = build_model(classifier_spec(tiny_cfg, pe, tok.get_vocab_size()))
    out = probes_imdb.probe_classifier(model, splits["test"], list(tiny_cfg.probe.lengths), cfg.truncation,
                                  tiny_cfg.probe.batch_size)
    assert len(out["reviews"]) == tiny_cfg.probe.batch_size
    for L in tiny_cfg.probe.lengths:
        g, a = out["gradients"][str(L)], out["attention"][str(L)]
        assert g["nonfinite"] == 0 and math.isfinite(g["loss"]) and g["grad_norm"]["layer0.attn"] > 0
        assert all(0.0 <= e <= 1.0 + 1e-9 for e in a["entropy_norm"])


def test_the_review_rule_picks_the_clearest_and_the_most_ambiguous_and_the_longest():
    p = np.array([0.9, 0.99, 0.2, 0.01, 0.55, 0.999, 0.4, 0.5])
    labels = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    lengths = np.array([10, 12, 14, 9, 16, 40, 12, 3])  # 5 is too long for 16, 7 too short (< 16/2)
    picks = probes_imdb.pick_reviews(p, labels, lengths, short=16, long=64)
    assert picks == {"positive": (1, 16), "negative": (3, 16), "ambiguous": (4, 16), "long": (5, 64)}
    # ties go to the lower index; without a review of each label in the short window, any length up to it
    assert probes_imdb.pick_reviews(np.full(3, 0.5), np.array([1, 0, 1]), np.array([2, 2, 2]), 16, 64) == \
        {"positive": (0, 16), "negative": (1, 16), "ambiguous": (0, 16), "long": (0, 64)}
    # real reviews in a tiny configuration: none short enough, so any review (truncated), and the shortest as long
    long_only = probes_imdb.pick_reviews(np.array([0.8, 0.3, 0.6]), np.array([1, 0, 1]), np.array([90, 80, 70]), 16, 64)
    assert long_only == {"positive": (0, 16), "negative": (1, 16), "ambiguous": (2, 16), "long": (2, 64)}


def test_review_maps_hold_numbers_only_in_the_summary_and_the_window_around_the_top_token(tmp_path, tiny_cfg):
    import dataclasses

    from posenc.engine.runtime import resolve

    cfg = dataclasses.replace(tiny_cfg.imdb, archive=str(write_archive(tmp_path / "a.tar.gz")), url="", hub_dataset="")
    tok, splits, _ = imdb.prepare(cfg, tiny_cfg.seed)
    torch.manual_seed(0)
    model = build_model(classifier_spec(tiny_cfg, "rope", tok.get_vocab_size()))
    summary, arrays = probes_imdb.probe_reviews(model, splits["val"], tiny_cfg, resolve("float32", "cpu"))
    assert set(summary) == {"positive", "negative", "ambiguous", "long"}
    assert all(isinstance(v, (int, float)) for s in summary.values() for v in s.values())  # no review text
    for name, s in summary.items():
        mass, window = arrays[f"{name}_mass"], arrays[f"{name}_window"]
        T = min(s["length"], s["read_at"])
        assert len(arrays[f"{name}_ids"]) == len(mass) == T and abs(float(mass.sum()) - 1.0) < 1e-4
        W = min(cfg.map_window, T)
        assert window.shape == (W, W) and s["window_start"] <= s["top_token_position"] < s["window_start"] + W
    assert summary["positive"]["label"] == 1 and summary["negative"]["label"] == 0


class ContentRule(torch.nn.Module):
    """A 'model' that is the 3-token content rule (analysis/baselines.py): one-hot logits on its prediction at
    every position. It has no notion of position, so a shift changes nothing."""

    def __init__(self, n_tokens: int):
        super().__init__()
        self.n_tokens = n_tokens

    def forward(self, idx, offset=0):
        from posenc.analysis.baselines import lookup_predictions

        out = torch.zeros(*idx.shape, self.n_tokens)
        for b, seq in enumerate(idx.numpy()):
            out[b, torch.arange(len(seq)), torch.from_numpy(lookup_predictions(seq, np.arange(len(seq)), 3))] = 1
        return out


def test_distance_probe_leaves_out_only_the_ill_posed_first_target_and_scores_content_matching_as_the_rule(tiny_cfg):
    """After a prefix nothing marks where the source begins, so the prediction made at SEP is left out (in both
    parts, so K = 0 agrees); a model that is the content rule scores exactly the rule's reference."""
    s = tiny_cfg.synthetic
    val = splits_for(tiny_cfg, "copy")["val"]
    idx, labels = synthetic.make_batch([val.get(i) for i in range(len(val))], "copy", s.vocab_size)
    kept = probes_lm.without_first_target(labels)
    sep = (idx == synthetic.sep_id(s.vocab_size)).int().argmax(1)
    assert ((labels != synthetic.IGNORE).sum(1) - (kept != synthetic.IGNORE).sum(1)).eq(1).all()
    assert (kept[torch.arange(len(kept)), sep] == synthetic.IGNORE).all()  # the one left out: predicted at SEP
    T = idx.shape[1]
    dist = probes_lm.distance_probe(ContentRule(int(idx.max()) + 1), val, "copy", s.vocab_size, 4 * T, seed=0)
    assert dist["n"] == len(val) and set(dist["prefix"]) == set(dist["shift"]) == {str(k) for k in
                                                                                  (0, T // 4, T // 2, T, 2 * T, 3 * T)}
    for k, row in dist["prefix"].items():
        assert row["exact"] == row["rule_exact"], k
        assert dist["shift"][k] == dist["shift"]["0"]  # position-free
    assert dist["prefix"]["0"]["exact"] == dist["shift"]["0"]["exact"] > 0.5
    assert dist["prefix"][str(T)]["exact"] > 0  # scoring the first target would make it 0 for any content matcher
