"""Figures: every one is drawn from metrics alone (no model), including a NaN run, with titles,
axis labels and one fixed colour per PE."""

import numpy as np
import pandas as pd
import pytest
import torch

from posenc.analysis import probes_lm
from posenc.data import synthetic
from posenc.engine.lm import lm_spec
from posenc.nn.backbone import build_model
from posenc.reporting import plots
from test_train import splits_for

PES = ["sinusoidal", "learned", "rope", "alibi"]
TASKS = ["copy", "duplicate"]


@pytest.fixture(scope="module")
def inputs(request):
    """Probe outputs of tiny untrained models (rope forced to NaN), and made-up results and logs."""
    from conftest import tiny_params
    from posenc import config

    cfg = config.from_dict(tiny_params())
    lengths = synthetic.eval_lengths(cfg.synthetic)
    probe_out, maps = {}, {}
    for task in TASKS:
        for pe in PES:
            torch.manual_seed(0)
            model = build_model(lm_spec(cfg, pe))
            if pe == "rope":
                with torch.no_grad():
                    model.head.weight[0, 0] = float("inf")
            m, mp = probes_lm.probe_lm(model, splits_for(cfg, task), task, cfg.synthetic.vocab_size,
                                    list(cfg.probe.lengths), lengths, list(cfg.probe.map_lengths), 2)
            probe_out[(task, pe)] = m
            if task == "copy":
                maps[pe] = mp
    for pe in PES:  # the classifier probes have the same layout; the synthetic ones stand in
        probe_out[("imdb", pe)] = {k: v for k, v in probe_out[("duplicate", pe)].items()}
    rng = np.random.default_rng(0)
    results = {"synthetic": {str(L): {pe: float(rng.random()) for pe in PES} for L in cfg.synthetic.eval_lengths},
               "curves": {t: {pe: {str(L): {"acc": float(rng.random()), "exact": float(rng.random()),
                                            "acc_ci": [0.1, 0.9], "exact_ci": [float("nan")] * 2}
                                    for L in lengths} for pe in PES} for t in TASKS},
               "baselines": {t: {r: {str(L): {"acc": 0.9, "exact": 0.5} for L in lengths}
                                 for r in ("lookup2", "lookup3")} for t in TASKS},
               "tracking": {t: {pe: {"step": [3, 6], "acc_16": [0.2, 0.5], "exact_16": [0.0, 0.1],
                                     "per_seed": {"acc_16": [[0.2, 0.5]], "exact_16": [[0.0, 0.1]]}}
                                for pe in PES} for t in TASKS},
               "imdb": {pe: {f"{k}_{L}": float(rng.random()) for k in ("acc", "f1", "loss") for L in (16, 32)}
                        for pe in PES},
               "imdb_buckets": {pe: {str(L): {b: {"acc": float(rng.random()), "n": 5} for b in ("<=16", ">16")}
                                     for L in (16, 32)} for pe in PES}}
    results["imdb"]["learned"]["loss_32"] = float("nan")
    results["errors"] = {t: {pe: {str(L): {"span": rng.random(8).tolist(), "span_ci": [[0.1, 0.9]] * 7 + [[np.nan] * 2]}
                                  for L in cfg.synthetic.eval_lengths} for pe in PES} for t in TASKS}
    live = {t: {pe: [pd.DataFrame({"step": np.arange(0, 50, 10), "loss": rng.random(5) + 0.1}) for _ in range(2)]
                for pe in PES} for t in (*TASKS, "imdb")}
    return cfg, results, probe_out, maps, live


def test_the_maps_figure_of_another_headline_task_says_it_is_drawn_for_copy_only():
    fig = plots.maps_figure({}, {}, PES, "duplicate", [16, 32], 16)
    assert "copy task only" in fig.axes[0].texts[0].get_text() and "duplicate" in fig.axes[0].texts[0].get_text()
    plots.plt.close(fig)


def test_every_figure_is_drawn_with_titles_and_labels(inputs):
    cfg, results, probe_out, maps, live = inputs
    figs = plots.all_figures(results, probe_out, live, PES, TASKS, "copy", cfg.synthetic.train_max_len,
                             cfg.imdb.train_max_len, list(cfg.probe.lengths))
    assert tuple(figs) == plots.FIGURES  # what dvc.yaml declares as the stage plot's outputs (test_dvc_deps)
    copy = {pe: probe_out[("copy", pe)] for pe in PES}
    figs[plots.MAPS] = plots.maps_figure(maps, copy, PES, "copy", list(cfg.probe.map_lengths),
                                         cfg.synthetic.train_max_len)
    for name, fig in figs.items():
        axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
        assert axes, name
        for ax in axes:
            if ax.get_title() == "" and not ax.has_data():
                continue  # a colour bar
            assert ax.get_title(), name
            assert ax.get_xlabel() or ax.get_ylabel(), name
        plots.plt.close(fig)


def test_each_pe_keeps_its_colour_in_every_line_plot(inputs):
    cfg, results, probe_out, maps, live = inputs
    colors = plots.pe_colors()
    assert len(set(colors.values())) == len(colors)
    fig = plots.accuracy_vs_length(results, TASKS, PES, cfg.synthetic.train_max_len, [16, 32])
    fig2 = plots.training_curves(live, PES)
    for f in (fig, fig2):
        for ax in f.axes:
            for line in ax.get_lines():
                if line.get_label() in colors:
                    assert tuple(line.get_color()) == tuple(colors[line.get_label()])
        plots.plt.close(f)


def test_copy_head_is_the_head_with_most_source_mass():
    probe = {"attention": {"16": {"source_mass": [[0.1, 0.2], [0.9, float("nan")]]}}}
    assert plots.copy_head(probe, 16) == (1, 0, 0.9)
    nan_probe = {"attention": {"16": {"source_mass": [[float("nan")] * 2]}}}
    assert plots.copy_head(nan_probe, 16)[:2] == (0, 0)


def test_the_imdb_figure_draws_where_the_changed_predictions_go_when_results_hold_them(inputs):
    cfg, results, *_ = inputs
    assert len(plots.imdb_vs_length(results, PES, 16).axes) == 3  # no imdb_leans: the three panels alone
    leans = {"from": 16, "rows": {"learned": {"32": [[9, 1], [10, 0]]}, "alibi": {"32": [[0, 0]]}}}
    fig = plots.imdb_vs_length({**results, "imdb_leans": leans}, PES, 16)
    panel = fig.axes[3]
    lines = {ln.get_label(): ln.get_ydata() for ln in panel.get_lines() if ln.get_label() in PES}
    assert set(lines) == {"learned", "alibi"}  # the PEs with counts; seeds pooled: 19 of 20 to negative
    assert lines["learned"][0] == pytest.approx(95.0) and np.isnan(lines["alibi"][0])  # nothing changed: no share
    assert "changed to negative" in panel.get_ylabel() and "from 16 to L" in panel.get_title()
    plots.plt.close(fig)
