"""Aggregation of every evaluation into metrics/results.json.

Kept apart from evaluate.py so that changing how results are assembled
re-runs only the cheap aggregate stage, never an evaluation.
"""

from __future__ import annotations

import math

import numpy as np

from posenc import io
from posenc.artifacts import IMDB, Layout
from posenc.config import Config
from posenc.metrics import macro_f1
from posenc.reporting import stats
from posenc.reporting.errors import error_results
from posenc.reporting.verdicts import reference_length


def key(metric: str, L) -> str:
    """The results.json key of a per-length number: key("acc", 256) -> "acc_256"."""
    return f"{metric}_{L}"


def lengths_of(row: dict, metric: str) -> list[int]:
    """The lengths at which `row` holds `metric`, ascending (the inverse of key())."""
    prefix = f"{metric}_"
    return sorted(int(k[len(prefix):]) for k in row if k.startswith(prefix) and k[len(prefix):].isdigit())


def read_inputs(cfg: Config, layout: Layout) -> tuple:
    """Everything aggregate() reads, from the per-model files of `layout`, in aggregate()'s argument order.
    Per-model dicts are keyed (task, pe, seed); probes (task, pe) from the first seed."""
    tasks, pes, seeds, first = cfg.synthetic.tasks, cfg.pes, cfg.seeds, cfg.seeds[0]
    evals = {}
    for t in tasks:
        for pe in pes:
            for sd in seeds:
                ev = io.read_json(layout.eval_json(t, pe, sd))
                evals[(t, pe, sd)] = ev["lengths"]
                for v, lengths in ev.get("variants", {}).items():  # evaluation-only variants: "<pe>_<v>" rows
                    evals[(t, variant_name(pe, v), sd)] = lengths
    trains = {(t, pe, sd): io.read_json(layout.train_log(t, pe, sd)) for t in tasks for pe in pes for sd in seeds}
    imdb_evals = {}
    for pe in pes:
        for sd in seeds:
            ev = io.read_json(layout.eval_json(IMDB, pe, sd))
            imdb_evals[(pe, sd)] = ev["lengths"]
            for v, lengths in ev.get("variants", {}).items():  # as for the LMs: "<pe>_<v>" rows
                imdb_evals[(variant_name(pe, v), sd)] = lengths
    imdb_trains = {(pe, sd): io.read_json(layout.train_log(IMDB, pe, sd))["summary"] for pe in pes for sd in seeds}
    probes = {(t, pe): io.read_json(layout.probe_json(t, pe, first)) for t in (*tasks, IMDB) for pe in pes}
    baselines = {t: io.read_json(layout.baselines(t))["rules"] for t in tasks}
    return evals, trains, imdb_evals, imdb_trains, io.read_json(layout.imdb_summary), probes, baselines


def parent_pe(name: str, pes) -> str:
    """The trained PE behind a row: itself, or the PE whose evaluation variant it is (rope_ntk -> rope)."""
    return name if name in pes else next(pe for pe in pes if name.startswith(f"{pe}_"))


def variant_name(pe: str, variant: str) -> str:
    """The results row of an evaluation-only variant of `pe`'s trained models: rope + pi -> rope_pi."""
    return f"{pe}_{variant}"


def rows_of(cfg: Config, evals: dict, task: str) -> list[str]:
    """The PEs of a task's rows: each PE of `pes`, followed by its evaluation variants
    (`evals` keyed (task, name, seed), or (name, seed) for the IMDb classifiers)."""
    found = {k[0] if task == IMDB else k[1] for k in evals if task == IMDB or k[0] == task}
    names = []
    for pe in cfg.pes:
        names.append(pe)
        names += sorted({n for n in found if n.startswith(f"{pe}_") and n not in cfg.pes})
    return names


def scored(acc: float, loss: float) -> float:
    """The course scores a model whose loss is NaN or inf as 0 points, whatever its argmax hits."""
    return acc if math.isfinite(loss) else 0.0


def mean(values) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def lm_metrics(ev: dict) -> dict[str, float]:
    """One model's numbers at one length: acc (0 if the loss is not finite), exact, loss."""
    return {"acc": scored(ev["token_acc"], ev["loss"]), "exact": ev["exact_match"], "loss": ev["loss"]}


def lm_interval(evs: list[dict], metric: str) -> list[float]:
    """95 % interval of the seed-mean of `metric` (acc, exact, loss) at one length (stats.py); a share's, where it
    collapses to a point, the Wilson interval of the pooled sequences (exact) or targets (acc)."""
    field = {"acc": "right", "exact": "exact", "loss": "loss"}[metric]
    items = np.array([ev["per_seq"][field] for ev in evs], dtype=float)  # (S, N)
    scale = 1.0 / evs[0]["targets"] if metric == "acc" else 1.0
    if len(evs) >= stats.MIN_SEEDS:
        ci = stats.t_interval([lm_metrics(ev)[metric] for ev in evs], None if metric == "loss" else stats.SHARE)
    else:
        ci = stats.bootstrap_interval(items, lambda x: x.mean(axis=(1, 2)) * scale)  # x: (B, S, N)
    if metric == "loss" or not all(math.isfinite(ev["loss"]) for ev in evs):  # a NaN model scores 0 (lm_metrics)
        return ci
    return stats.share_interval(ci, items.sum(), items.size / scale)


def lm_row(cfg: Config, evs: list[dict], trains: list[dict], lengths) -> dict:
    """results.json tasks[task][pe]: seed means as plain numbers, then per_seed and ci beside them."""
    row, per_seed, ci = {}, {}, {}
    for L in lengths:
        ms = [lm_metrics(ev[str(L)]) for ev in evs]
        for metric in ("acc", "exact", "loss"):
            k = key(metric, L)
            per_seed[k] = [m[metric] for m in ms]
            row[k] = mean(per_seed[k])
            ci[k] = lm_interval([ev[str(L)] for ev in evs], metric)
    summaries = [tr["summary"] for tr in trains]
    row.update({"train_steps": summaries[0]["steps"],
                "solved": row[key("exact", cfg.synthetic.train_max_len)] >= cfg.train.solved_exact
                if key("exact", cfg.synthetic.train_max_len) in row else None,
                "first_step_acc": [s["first_step_acc"] for s in summaries],
                "first_step_exact": [s["first_step_exact"] for s in summaries],
                "per_seed": per_seed, "ci": ci, "ci_kind": stats.interval_kind(len(evs))})
    return row


def tracking(trains: list[dict]) -> dict:
    """Extrapolation along training: the tracked steps, seed means and per-seed values of each score."""
    tracks = [tr["tracking"] for tr in trains]
    out = {"step": tracks[0]["step"], "per_seed": {}}
    for name in tracks[0]:
        if name != "step":
            out["per_seed"][name] = [t[name] for t in tracks]
            out[name] = np.mean(out["per_seed"][name], axis=0).tolist()
    return out


def aggregate(cfg: Config, evals: dict, trains: dict, imdb_evals: dict, imdb_trains: dict, imdb_data: dict,
              probes: dict, baselines: dict) -> dict:
    """Build results.json from read_inputs()' dicts (keyed (task, pe, seed) and (pe, seed)).

    Top of the file keeps the seed's schema, each number now the mean over seeds:
    synthetic[L][pe] = token accuracy of the headline task, tasks[task][pe][acc_L/exact_L/loss_L],
    imdb[pe] = {acc_L, f1_L, loss_L}. Beside them: per_seed values, 95 % intervals (ci, with
    ci_kind), learning speed, tracking (extrapolation along training), the content baselines, and
    errors[task][row][L]: where the errors are (reporting/errors.py).
    Accuracies at a length where the loss is not finite are 0.
    """
    s, seeds = cfg.synthetic, cfg.seeds
    lengths = sorted(set(s.eval_lengths) | set(s.curve_lengths) | set(s.far_lengths))
    results: dict = {"seeds": list(seeds), "interval": stats.interval_kind(len(seeds)), "vocab_size": s.vocab_size,
                     "synthetic": {},
                     "headline_task": s.headline_task, "tasks": {}, "curves": {}, "tracking": {}, "errors": {}}
    for task in s.tasks:
        names = rows_of(cfg, evals, task)
        parent = {n: parent_pe(n, cfg.pes) for n in names}
        rows = {n: lm_row(cfg, [evals[(task, n, sd)] for sd in seeds],
                          [trains[(task, parent[n], sd)] for sd in seeds], lengths) for n in names}
        results["tasks"][task] = {pe: {k: v for k, v in row.items() if not k.startswith(("acc_", "exact_", "loss_"))
                                       or int(k.split("_")[1]) in (*s.eval_lengths, *s.far_lengths)} for pe, row in rows.items()}
        results["curves"][task] = {pe: {str(L): {m: rows[pe][key(m, L)] for m in ("acc", "exact")}
                                         | {f"{m}_ci": rows[pe]["ci"][key(m, L)] for m in ("acc", "exact")}
                                         for L in lengths} for pe in names}
        results["tracking"][task] = {pe: tracking([trains[(task, pe, sd)] for sd in seeds]) for pe in cfg.pes}
        results["errors"][task] = error_results(evals, task, names, list(seeds), list(s.eval_lengths))
    for L in s.eval_lengths:
        results["synthetic"][str(L)] = {pe: row[key("acc", L)] for pe, row in results["tasks"][s.headline_task].items()}
    results["baselines"] = {task: {rule: {L: {"acc": m["token_acc"], "exact": m["exact_match"]}
                                          for L, m in per.items()} for rule, per in baselines[task].items()}
                            for task in s.tasks}
    results.update(imdb_results(cfg, imdb_evals, imdb_trains, imdb_data))
    first = seeds[0]
    results["stability"] = {
        **{task: {pe: stability(cfg, probes[(task, pe)], [ev["loss"] for ev in evals[(task, pe, first)].values()])
                  for pe in cfg.pes} for task in s.tasks},
        IMDB: {pe: stability(cfg, probes[(IMDB, pe)], [ev["loss"] for ev in imdb_evals[(pe, first)].values()])
                 for pe in cfg.pes},
    }
    return results


def headline(cfg: Config, results: dict) -> dict:
    """The few numbers per PE that the report's conclusions rest on: the only DVC metrics, so that
    `dvc exp show` and `dvc metrics diff` stay readable (results.json holds everything else).

    {pe: {"<headline task>_exact_<train length>", "<task>_exact_<longest>" for every task,
    "imdb_acc_<longest>"}}: exact match, since token accuracy flatters a copy task.
    """
    s, longest = cfg.synthetic, max(cfg.synthetic.eval_lengths)
    ref = max([L for L in s.eval_lengths if L <= s.train_max_len], default=min(s.eval_lengths))
    out = {}
    for pe in cfg.pes:
        row = {key(f"{s.headline_task}_exact", ref): results["tasks"][s.headline_task][pe][key("exact", ref)]}
        row.update({key(f"{t}_exact", longest): results["tasks"][t][pe][key("exact", longest)] for t in s.tasks})
        L = max(cfg.imdb.eval_lengths)
        row[key(f"{IMDB}_acc", L)] = results[IMDB][pe][key("acc", L)]
        out[pe] = row
    return out


def stability(cfg: Config, probe: dict, eval_losses: list[float]) -> dict:
    """The stability figures of one model.

    grad_norm_last_layer_<L>: mean gradient norm of the last block at the
    longest probe length L (see probes.py); max_loss: the largest mean loss
    over every evaluated length (NaN if any is not finite); nan_count:
    non-finite probe losses and gradient entries plus non-finite evaluation
    losses; nan: whether there was any.
    """
    L = str(max(cfg.probe.lengths))
    last = f"layer{cfg.model.n_layers - 1}"
    grads = probe["gradients"]
    probe_losses = [g["loss"] for g in grads.values()]
    nan_count = sum(g["nonfinite"] for g in grads.values()) + sum(not math.isfinite(x) for x in eval_losses)
    finite = all(math.isfinite(x) for x in eval_losses)
    return {key("grad_norm_last_layer", L): grads[L]["layer_mean_grad_norm"][last],
            key("probe_loss", L): grads[L]["loss"],
            "max_probe_loss": max(probe_losses) if all(math.isfinite(x) for x in probe_losses) else float("nan"),
            "max_loss": max(eval_losses) if finite else float("nan"),
            "nan_count": nan_count, "nan": nan_count > 0}


def imdb_interval(evs: list[dict], metric: str) -> list[float]:
    """95 % interval of the seed-mean of acc, f1 or loss at one length: t over seeds, else a bootstrap
    over reviews (acc and f1; the loss has no per-review record and gets NaN); accuracy's, where it collapses to
    a point, the Wilson interval of the pooled reviews."""
    seeds = len(evs) >= stats.MIN_SEEDS
    if seeds and (metric != "acc" or "per_review" not in evs[0]):
        return stats.t_interval([ev[metric] for ev in evs], None if metric == "loss" else stats.SHARE)
    if metric == "loss":
        return [float("nan"), float("nan")]
    pred = np.array([[int(c) for c in ev["per_review"]["pred"]] for ev in evs])  # (S, N)
    label = np.array([[int(c) for c in ev["per_review"]["label"]] for ev in evs])
    both = np.stack([pred, label], axis=-1)  # (S, N, 2): resampled together
    if seeds:
        ci = stats.t_interval([ev["acc"] for ev in evs], stats.SHARE)
    elif metric == "acc":
        ci = stats.bootstrap_interval(both, lambda x: (x[..., 0] == x[..., 1]).mean(axis=(1, 2)))  # x: (B, S, N, 2)
    else:
        return stats.bootstrap_interval(both, lambda x: np.array([np.mean([macro_f1(r[:, 0], r[:, 1]) for r in b])
                                                                  for b in x]))
    return stats.share_interval(ci, (pred == label).sum(), pred.size)


def digits(s: str) -> np.ndarray:
    """A string of per-review digits (analysis/evaluate_imdb) as an array of label ids."""
    return np.frombuffer(s.encode(), np.uint8) - ord("0")


def changed_to(at_t: dict, at_l: dict, n_classes: int = 2) -> list[int]:
    """Of the predictions that differ between two evaluations' per_review records of the same reviews, how many
    change to each class (label id order)."""
    if at_t["label"] != at_l["label"]:
        raise ValueError("the two evaluations do not score the same reviews (their labels differ)")
    a, b = digits(at_t["pred"]), digits(at_l["pred"])
    return [int(((a != b) & (b == c)).sum()) for c in range(n_classes)]


def imdb_leans(cfg: Config, evals: dict) -> dict:
    """Where the predictions that change with the longer input go: {"from": T, "rows": {pe: {L: [counts per class]
    per seed}}} from the training length T to every longer one (reporting/paired.py tests them)."""
    T = reference_length(cfg.imdb.eval_lengths, cfg.imdb.train_max_len)
    rows = {pe: {str(L): [changed_to(evals[(pe, sd)][str(T)]["per_review"], evals[(pe, sd)][str(L)]["per_review"])
                          for sd in cfg.seeds] for L in cfg.imdb.eval_lengths if L > T}
            for pe in rows_of(cfg, evals, IMDB)}
    return {"from": T, "rows": rows}


def imdb_results(cfg: Config, evals: dict, trains: dict, data: dict) -> dict:
    """imdb[pe] (seed means, flat, for `dvc metrics diff`) with per_seed and ci beside them,
    imdb_buckets[pe][L][bucket] (first seed), imdb_leans and imdb_data."""
    lengths, seeds = [str(L) for L in cfg.imdb.eval_lengths], cfg.seeds
    out: dict = {"imdb": {}, "imdb_buckets": {}}
    for pe in rows_of(cfg, evals, IMDB):  # the PEs and their evaluation variants (trained as their PE)
        evs, trs = [evals[(pe, sd)] for sd in seeds], [trains[(parent_pe(pe, cfg.pes), sd)] for sd in seeds]
        row, per_seed, ci = {}, {}, {}
        for L in lengths:
            for m in ("acc", "f1", "loss"):
                per_seed[key(m, L)] = [scored(ev[L][m], ev[L]["loss"]) if m == "acc" else ev[L][m] for ev in evs]
                row[key(m, L)] = mean(per_seed[key(m, L)])
                ci[key(m, L)] = imdb_interval([ev[L] for ev in evs], m)
        out["imdb"][pe] = {**row, "best_epoch": [tr["best_epoch"] for tr in trs], "train_steps": trs[0]["steps"],
                           "per_seed": per_seed, "ci": ci, "ci_kind": stats.interval_kind(len(seeds))}
        out["imdb_buckets"][pe] = {L: {name: {k: b[k] for k in ("acc", "f1", "loss", "n")}
                                       for name, b in evs[0][L]["buckets"].items()} for L in lengths}
    test = data["lengths"]["test"]
    out["imdb_leans"] = imdb_leans(cfg, evals)
    out["imdb_data"] = {"vocab_size": data["vocab_size"],
                        **{f"{k}_reviews": data["lengths"][k]["n_reviews"] for k in ("train", "val", "test")},
                        "test_lengths": {k: v for k, v in test.items() if k.startswith(("p", "frac_", "buckets"))}}
    return out
