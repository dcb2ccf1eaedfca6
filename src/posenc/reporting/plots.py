"""Figures, drawn from saved metrics only: results.json, the probes'
JSON and attention maps, and the DVCLive training logs. Nothing here trains or loads a model.

Every function returns one matplotlib Figure; the stages plot (all_figures) and plot_maps (maps_figure) save
them. Each PE keeps the same colour in every figure (`pe_colors`), taken from the registry order.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from posenc import io  # noqa: E402
from posenc.nn.pe import available  # noqa: E402
from posenc.reporting import stats  # noqa: E402
from posenc.reporting.paired import CLASS_NAMES  # noqa: E402
from posenc.reporting.results import key, lengths_of  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")


class _Colors(dict):
    """Registered PEs by name; an evaluation-only variant "<pe>_<v>" gets a lighter shade of its PE's colour."""

    def __missing__(self, name: str) -> tuple:
        parent = max((p for p in self if name.startswith(f"{p}_")), key=len, default=None)
        if parent is None:
            raise KeyError(name)
        mix = 0.3 + 0.2 * (zlib.crc32(name.encode()) % 3)  # deterministic, one of three shades
        return tuple(c + (1 - c) * mix for c in self[parent])


def pe_colors() -> dict[str, tuple]:
    """One fixed colour per family of registered PEs, the same in every figure: a PE "<pe>_<x>" (its
    randomized form, rope_rand) and every evaluation variant (rope_ntk) get a shade of <pe>'s colour."""
    names = [n for n in available() if not any(n.startswith(f"{p}_") for p in available())]
    return _Colors(zip(names, sns.color_palette("colorblind", len(names))))


def _mark_training_length(ax, train_len: int) -> None:
    ax.axvline(train_len, color="0.4", ls="--", lw=1)
    ax.axvspan(train_len, ax.get_xlim()[1], color="0.9", zorder=0)
    ax.text(train_len, 0.02, f" longer than training ({train_len})", transform=ax.get_xaxis_transform(),
            fontsize=8, color="0.3", va="bottom", ha="left")


METRICS = {"acc": "token accuracy on targets (%)", "exact": "exact match (%)"}
RULE_STYLE = {"lookup2": ":", "lookup3": "--"}  # content-matching baselines (analysis/baselines.py)


def accuracy_vs_length(results: dict, tasks: list[str], pes: list[str], train_len: int, marks: list[int]):
    """Token accuracy (top) and exact match (bottom) vs sequence length, one column per task: the mean over
    seeds with its 95 % band, the content-matching rules as grey reference lines, chance as a dotted line."""
    colors = pe_colors()
    fig, axes = plt.subplots(2, len(tasks), figsize=(6 * len(tasks), 7.5), squeeze=False, sharey="row")
    chance = 1 / max(1, results.get("vocab_size", 100))
    for col, task in enumerate(tasks):
        for row, metric in enumerate(METRICS):
            ax = axes[row][col]
            for pe in pes:
                curve = results["curves"][task][pe]
                xs = sorted(int(L) for L in curve)
                ys = np.array([curve[str(L)][metric] for L in xs]) * 100
                lo, hi = (np.array([curve[str(L)][f"{metric}_ci"][i] for L in xs], dtype=float) * 100 for i in (0, 1))
                ax.plot(xs, ys, marker="o", ms=3, label=pe, color=colors[pe])
                ax.fill_between(xs, lo, hi, color=colors[pe], alpha=0.15, lw=0)
                ax.scatter([L for L in marks if L in xs], [ys[xs.index(L)] for L in marks if L in xs],
                           s=40, color=colors[pe], edgecolor="black", zorder=3)
            for rule, per_len in results.get("baselines", {}).get(task, {}).items():
                bx = sorted(int(L) for L in per_len)
                ax.plot(bx, [100 * per_len[str(L)][metric] for L in bx], color="0.45", ls=RULE_STYLE.get(rule, "-."),
                        lw=1.2, label=f"content rule: last {rule[-1]} tokens")
            if metric == "acc":
                ax.axhline(100 * chance, color="0.6", ls=(0, (1, 3)), lw=1, label="chance")
            ax.set_xlim(0, max(xs) * 1.03)
            _mark_training_length(ax, train_len)
            ax.set(title=f"{task}: {metric} vs length", xlabel="sequence length (tokens)", ylabel=METRICS[metric],
                   ylim=(-2, 102), xticks=sorted({train_len, *marks, 0}))
    axes[0][-1].legend(loc="center right", fontsize=8)
    fig.tight_layout()
    return fig


def extrapolation_vs_step(results: dict, tasks: list[str], pes: list[str], train_len: int):
    """Extrapolation along training: exact match and token accuracy at each evaluation length against the
    training step, one line per PE and length (seed mean, band = seed min-max)."""
    colors = pe_colors()
    fig, axes = plt.subplots(2, len(tasks), figsize=(6 * len(tasks), 7.5), squeeze=False, sharey="row")
    for col, task in enumerate(tasks):
        for row, metric in enumerate(("exact", "acc")):
            ax = axes[row][col]
            for pe in pes:
                tr = results["tracking"][task][pe]
                lengths = lengths_of(tr, metric)
                for L, ls in zip(lengths, ("-", "--", ":", "-.")):
                    per_seed = np.array(tr["per_seed"][key(metric, L)], dtype=float) * 100  # (S, checks)
                    ax.plot(tr["step"], per_seed.mean(0), color=colors[pe], ls=ls, lw=1.3,
                            label=f"{pe} @{L}" if L != train_len else f"{pe} @{L} (training length)")
                    ax.fill_between(tr["step"], per_seed.min(0), per_seed.max(0), color=colors[pe], alpha=0.12, lw=0)
            ax.set(title=f"{task}: {metric} along training", xlabel="optimizer step", ylabel=METRICS[metric],
                   ylim=(-2, 102))
    axes[0][-1].legend(fontsize=7, ncol=2, loc="upper left")
    fig.tight_layout()
    return fig


def errors_along_span(results: dict, tasks: list[str]):
    """Where the errors are (reporting/errors.py): token accuracy on each eighth of the target span, one row per
    task and one column per evaluation length, a line per PE row (seed mean, 95 % band)."""
    colors = pe_colors()
    found = results.get("errors", {})
    lengths = sorted({int(L) for t in tasks for per in found.get(t, {}).values() for L in per})
    if not lengths:  # evaluations written before errors were recorded
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.set(title="where the errors are: not recorded in these evaluations", xticks=[], yticks=[])
        return fig
    fig, axes = plt.subplots(len(tasks), len(lengths), figsize=(4.5 * len(lengths), 3.8 * len(tasks)),
                             squeeze=False, sharey=True)
    for r, task in enumerate(tasks):
        for c, L in enumerate(lengths):
            ax = axes[r][c]
            for pe, per in found.get(task, {}).items():
                if str(L) in per:
                    row = per[str(L)]
                    xs = np.arange(1, len(row["span"]) + 1)
                    lo, hi = (np.array([ci[i] for ci in row["span_ci"]], dtype=float) * 100 for i in (0, 1))
                    ax.plot(xs, np.array(row["span"]) * 100, marker="o", ms=3, label=pe, color=colors[pe])
                    ax.fill_between(xs, lo, hi, color=colors[pe], alpha=0.15, lw=0)
            ax.set(title=f"{task} at {L}: accuracy along the span", xlabel="eighth of the target span (in order)",
                   ylabel=METRICS["acc"], ylim=(-2, 102))
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: lines reach every corner
    fig.tight_layout()
    return fig


def lean_panel(ax, leans: dict, pes: list[str], colors) -> None:
    """Where each classifier's predictions that change with the longer input go: the share that changes to the
    first class (pooled over seeds, 95 % Wilson band), against one half (a classifier that only gets noisier)."""
    for pe in [pe for pe in pes if pe in leans["rows"]]:
        per_length = leans["rows"][pe]
        Ls = [int(L) for L in per_length]
        to = np.array([np.sum(per_length[str(L)], axis=0) for L in Ls])  # (lengths, classes), seeds pooled
        n = to.sum(axis=1)
        share = np.where(n > 0, 100 * to[:, 0] / np.maximum(n, 1), np.nan)
        ax.plot(Ls, share, marker="o", color=colors[pe], label=pe)
        band = np.array([stats.proportion_interval(int(k), int(m)) if m else [np.nan, np.nan]
                         for k, m in zip(to[:, 0], n)], dtype=float) * 100
        ax.fill_between(Ls, band[:, 0], band[:, 1], color=colors[pe], alpha=0.15, lw=0)
    ax.axhline(50, color="0.4", ls=":", lw=1)
    ax.text(0.01, 50, "half and half: only noisier", transform=ax.get_yaxis_transform(), fontsize=8, color="0.3",
            va="bottom", ha="left")
    ax.set_ylim(-2, 102)


def imdb_vs_length(results: dict, pes: list[str], train_len: int):
    """IMDb test accuracy and loss vs truncation length, accuracy on the longest review bucket, and where the
    predictions that change with the longer input go (results.json imdb_leans)."""
    colors = pe_colors()
    lengths = lengths_of(results["imdb"][pes[0]], "acc")
    buckets = list(results["imdb_buckets"][pes[0]][str(lengths[-1])])
    longest = buckets[-1]
    n_long = results["imdb_buckets"][pes[0]][str(lengths[-1])][longest]["n"]
    leans = results.get("imdb_leans")
    fig, axes = plt.subplots(1, 4 if leans else 3, figsize=(21 if leans else 16, 4.2))
    panels = [("accuracy (%)", lambda pe, L: 100 * results["imdb"][pe][key("acc", L)], "accuracy, all test reviews"),
              ("mean cross-entropy (nats)", lambda pe, L: results["imdb"][pe][key("loss", L)],
               "loss, all test reviews"),
              ("accuracy (%)", lambda pe, L: 100 * results["imdb_buckets"][pe][str(L)][longest]["acc"],
               f"accuracy, reviews of {longest} tokens (n={n_long})")]
    for ax, (ylabel, value, subset) in zip(axes, panels):
        for pe in pes:
            ax.plot(lengths, [value(pe, L) for L in lengths], marker="o", label=pe, color=colors[pe])
            ci = results["imdb"][pe].get("ci", {})
            if subset.startswith("accuracy, all") and all(key("acc", L) in ci for L in lengths):
                ax.fill_between(lengths, *(np.array([ci[key("acc", L)][i] for L in lengths], dtype=float) * 100
                                           for i in (0, 1)), color=colors[pe], alpha=0.15, lw=0)
        ax.set_xlim(0, lengths[-1] * 1.05)
        _mark_training_length(ax, train_len)
        ax.set(xticks=lengths, xlabel="test reviews cut to L tokens", ylabel=ylabel, title=f"IMDb: {subset}")
    if leans:
        lean_panel(axes[3], leans, pes, colors)
        axes[3].set_xlim(0, lengths[-1] * 1.05)
        _mark_training_length(axes[3], train_len)
        axes[3].set(xticks=lengths, xlabel="test reviews cut to L tokens",
                    ylabel=f"changed to {CLASS_NAMES[0]} (%)",
                    title=f"IMDb: predictions that change from {leans['from']} to L")
    axes[-1].legend(title="PE", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: lines fill the panels
    fig.tight_layout()
    return fig


def grad_norm_heatmaps(probes: dict[str, dict], pes: list[str], lengths: list[int], title: str):
    """Per-component gradient norm (log10) on the probe batch, one heatmap per length, rows = PEs."""
    components = list(probes[pes[0]]["gradients"][str(lengths[0])]["grad_norm"])
    values = {L: np.array([[probes[pe]["gradients"][str(L)]["grad_norm"][c] for c in components] for pe in pes])
              for L in lengths}
    finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in values.values()])
    lo, hi = (np.log10(finite.min()), np.log10(finite.max())) if finite.size else (-3.0, 0.0)
    fig, axes = plt.subplots(1, len(lengths), figsize=(5.2 * len(lengths), 1.2 + 0.55 * len(pes)), sharey=True)
    axes = np.atleast_1d(axes)
    for i, (ax, L) in enumerate(zip(axes, lengths)):
        with np.errstate(divide="ignore"):
            logs = np.log10(values[L])
        sns.heatmap(pd.DataFrame(logs, index=pes, columns=components), ax=ax, vmin=lo, vmax=hi, cmap="mako",
                    annot=True, fmt=".1f", annot_kws={"fontsize": 7}, cbar=i == len(lengths) - 1,
                    cbar_kws={"label": "log10 gradient L2 norm"})
        ax.set(title=f"length {L}", xlabel="component", ylabel="PE" if i == 0 else "")
        ax.tick_params(axis="x", rotation=60)
    fig.suptitle(f"{title}: gradient norm per component on a fixed batch (blank = NaN)")
    fig.tight_layout()
    return fig


def read_live(folder: Path, metric: str = "train/loss") -> pd.DataFrame:
    """A DVCLive metric log (step, value) as a DataFrame; attrs["checks"]: the steps of the validation checks."""
    df = pd.read_csv(folder / "plots" / "metrics" / f"{metric}.tsv", sep="\t")
    val = next(iter(sorted((folder / "plots" / "metrics" / "val").glob("*.tsv"))), None)
    df.attrs["checks"] = pd.read_csv(val, sep="\t")["step"].tolist() if val else []
    return df


def training_curves(live: dict[str, dict[str, list[pd.DataFrame]]], pes: list[str], smooth: int = 5):
    """Training loss vs step, one panel per task (synthetic and IMDb), one line per PE: the mean over
    seeds of the rolling mean, with the seeds' min-max band; ticks at the top mark the validation checks."""
    colors = pe_colors()
    tasks = list(live)
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for pe in pes:
            runs = [df.set_index("step")["loss"].rolling(smooth, min_periods=1).mean() for df in live[task][pe]]
            both = pd.concat(runs, axis=1)
            ax.plot(both.index, both.mean(axis=1), label=pe, color=colors[pe], lw=1.2)
            if len(runs) > 1:
                ax.fill_between(both.index, both.min(axis=1), both.max(axis=1), color=colors[pe], alpha=0.15, lw=0)
            checks = live[task][pe][0].attrs.get("checks", [])
            ax.plot(checks, [1.0] * len(checks), "|", color="0.5", ms=6, transform=ax.get_xaxis_transform())
        ax.set_yscale("log")
        ax.set(title=f"{task}: training loss", xlabel="optimizer step (ticks: validation checks)",
               ylabel="cross-entropy (nats, log scale)" + ("" if task == "imdb" else ", targets only"))
    axes[0][0].legend(title="PE")
    fig.tight_layout()
    return fig


def copy_head(probe: dict, L: int) -> tuple[int, int, float]:
    """(layer, head, mass) of the head putting the most weight on the source token at length L."""
    mass = np.array(probe["attention"][str(L)]["source_mass"], dtype=float)
    if not np.isfinite(mass).any():
        return 0, 0, float("nan")
    layer, head = np.unravel_index(np.nanargmax(mass), mass.shape)
    return int(layer), int(head), float(mass[layer, head])


def attention_maps(maps: dict[str, dict], probes: dict[str, dict], pes: list[str], lengths: list[int], train_len: int):
    """The same copy example's attention for each PE (rows) at each length (columns).

    Each row shows the PE's copy head: the (layer, head) with the most weight on
    the source token at the training length, followed to the longer inputs.
    """
    fig, axes = plt.subplots(len(pes), len(lengths), figsize=(4.4 * len(lengths) + 1, 4.0 * len(pes)), squeeze=False,
                             layout="constrained")
    choose_at = max([L for L in lengths if L <= train_len], default=lengths[0])
    norm = LogNorm(vmin=1e-4, vmax=1.0)
    for r, pe in enumerate(pes):
        layer, head, _ = copy_head(probes[pe], choose_at)
        for c, L in enumerate(lengths):
            ax = axes[r][c]
            w = maps[pe][f"attn_{L}"][layer, head].astype(np.float32)
            img = ax.imshow(np.where(w > 0, w, np.nan), norm=norm, cmap="rocket_r", interpolation="nearest")
            mass = probes[pe]["attention"][str(L)]["source_mass"][layer][head]
            ax.set_title(f"{pe} @ {L}: layer {layer}, head {head}\nweight on source token {mass:.2f}", fontsize=9)
            ax.set(xlabel="key position", ylabel="query position")
            ax.grid(False)
    fig.colorbar(img, ax=axes, shrink=0.5, label="attention weight (log scale)")
    fig.suptitle("copy: attention of each PE's copy head (chosen at the training length), one example per length")
    return fig


def attention_entropy(probes: dict[str, dict], pes: list[str], train_len: int, title: str):
    """Normalised attention entropy per layer vs length (1 = uniform over visible keys), one line per PE,
    and for copy the weight the copy head puts on the source token."""
    colors = pe_colors()
    first = probes[pes[0]]["attention"]
    lengths = sorted(int(L) for L in first)
    n_layers = len(first[str(lengths[0])]["entropy_norm"])
    has_mass = first[str(lengths[0])].get("source_mass") is not None
    cols = n_layers + has_mass
    fig, axes = plt.subplots(1, cols, figsize=(4.6 * cols, 4), squeeze=False)
    for layer in range(n_layers):
        ax = axes[0][layer]
        for pe in pes:
            ys = [probes[pe]["attention"][str(L)]["entropy_norm"][layer] for L in lengths]
            ax.plot(lengths, ys, marker="o", ms=3, label=pe, color=colors[pe])
        ax.set_xlim(0, lengths[-1] * 1.03)
        _mark_training_length(ax, train_len)
        ax.set(title=f"layer {layer}", xlabel="sequence length (tokens)", ylim=(-0.02, 1.02),
               ylabel="entropy / log(visible keys)" if layer == 0 else "")
    if has_mass:
        ax = axes[0][-1]
        choose_at = max([L for L in lengths if L <= train_len], default=lengths[0])
        for pe in pes:
            layer, head, _ = copy_head(probes[pe], choose_at)
            ax.plot(lengths, [probes[pe]["attention"][str(L)]["source_mass"][layer][head] for L in lengths],
                    marker="o", ms=3, label=pe, color=colors[pe])
        ax.set_xlim(0, lengths[-1] * 1.03)
        _mark_training_length(ax, train_len)
        ax.set(title="copy head: weight on the source token", xlabel="sequence length (tokens)",
               ylabel="mean attention weight", ylim=(-0.02, 1.02))
    axes[0][0].legend(title="PE")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


FIGURES = ("accuracy_vs_length.png", "imdb_vs_length.png", "grad_norms.png", "grad_norms_imdb.png", "training_loss.png",
           "extrapolation_vs_step.png", "errors_along_span.png", "attention_entropy.png", "attention_entropy_imdb.png")
MAPS = "attention_maps.png"  # the stage plot_maps' one figure: it needs the probe stages' arrays (data/probes)


def all_figures(results: dict, probes: dict[tuple[str, str], dict], live: dict[str, dict[str, list[pd.DataFrame]]],
                pes: list[str], tasks: list[str], headline: str, train_len: int, imdb_train_len: int,
                probe_lengths: list[int]) -> dict:
    """{file name: Figure} for every figure of the stage plot: all but the attention maps (maps_figure), so that
    they are drawn from files git holds (results.json, the probes' JSON, the training logs) and a checkout without
    the models' probe arrays can redraw them."""
    marks = sorted(int(L) for L in results["synthetic"])
    return {
        "accuracy_vs_length.png": accuracy_vs_length(results, tasks, list(results["curves"][tasks[0]]), train_len,
                                                     marks),  # the PEs and their evaluation variants
        "imdb_vs_length.png": imdb_vs_length(results, list(results["imdb"]), imdb_train_len),  # with variants
        "grad_norms.png": grad_norm_heatmaps({pe: probes[(headline, pe)] for pe in pes}, pes, probe_lengths,
                                             f"{headline} task"),
        "grad_norms_imdb.png": grad_norm_heatmaps({pe: probes[("imdb", pe)] for pe in pes}, pes, probe_lengths,
                                                  "IMDb classifier"),
        "training_loss.png": training_curves(live, pes),
        "extrapolation_vs_step.png": extrapolation_vs_step(results, tasks, pes, train_len),
        "errors_along_span.png": errors_along_span(results, tasks),
        "attention_entropy.png": attention_entropy({pe: probes[(headline, pe)] for pe in pes}, pes, train_len,
                                                   f"{headline} task: how uniform attention becomes with length"),
        "attention_entropy_imdb.png": attention_entropy({pe: probes[("imdb", pe)] for pe in pes}, pes,
                                                        imdb_train_len, "IMDb: how uniform attention becomes"),
    }


def save_figure(fig, path: Path) -> None:
    """Write one figure as the stages do (atomically, 110 dpi, tight) and free it."""
    with io.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)


def maps_figure(maps: dict[str, dict], probes: dict[str, dict], pes: list[str], headline: str, lengths: list[int],
                train_len: int):
    """The attention maps of the headline task's copy heads (attention_maps). Only copy defines a copy head (the
    weight on the source token); for another headline task the figure says so, and the report leaves it out."""
    if headline == "copy":
        return attention_maps(maps, probes, pes, lengths, train_len)
    fig, ax = plt.subplots(figsize=(6, 1.5))
    ax.axis("off")
    ax.set_title("attention maps of the copy heads")
    ax.text(0.5, 0.4, f"drawn for the copy task only; synthetic.headline_task is {headline}", ha="center")
    return fig


def tidy_tables(results: dict, live: dict[str, dict[str, list[pd.DataFrame]]], pes: list[str]) -> dict[str, pd.DataFrame]:
    """Long-format tables behind dvc.yaml's top-level plots (templates/by_pe.json: one line per PE, one
    panel per task): scores vs length (PEs and evaluation variants), training loss (mean over seeds)."""
    lengths = [{"task": task, "pe": pe, "length": int(L), "acc": v["acc"], "exact": v["exact"]}
               for task, per_pe in results["curves"].items() for pe, curve in per_pe.items() for L, v in curve.items()]
    imdb = [{"task": "imdb", "pe": pe, "length": L, "acc": row[key("acc", L)]}
            for pe, row in results.get("imdb", {}).items() for L in lengths_of(row, "acc")]
    loss = []
    for task, per_pe in live.items():
        for pe in pes:
            both = pd.concat([df.set_index("step")["loss"] for df in per_pe[pe]], axis=1).mean(axis=1)
            loss += [{"task": task, "pe": pe, "step": int(s), "loss": float(v)} for s, v in both.items()]
    return {"lengths.tsv": pd.DataFrame(lengths).sort_values(["task", "pe", "length"]),
            "imdb.tsv": pd.DataFrame(imdb, columns=["task", "pe", "length", "acc"]),
            "train_loss.tsv": pd.DataFrame(loss)}
