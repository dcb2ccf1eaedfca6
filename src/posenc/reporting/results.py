"""Aggregation of every evaluation into metrics/results.json.

Kept apart from evaluate.py so that changing how results are assembled
re-runs only the cheap aggregate stage, never an evaluation.
"""

from __future__ import annotations

import math

from posenc import io
from posenc.artifacts import IMDB, Layout
from posenc.config import Config


def key(metric: str, L) -> str:
    """The results.json key of a per-length number: key("acc", 256) -> "acc_256"."""
    return f"{metric}_{L}"


def lengths_of(row: dict, metric: str) -> list[int]:
    """The lengths at which `row` holds `metric`, ascending (the inverse of key())."""
    prefix = f"{metric}_"
    return sorted(int(k[len(prefix):]) for k in row if k.startswith(prefix) and k[len(prefix):].isdigit())


def read_inputs(cfg: Config, layout: Layout) -> tuple:
    """Everything aggregate() reads, from the per-model files of `layout`, in aggregate()'s argument order."""
    tasks, pes = cfg.synthetic.tasks, cfg.pes
    evals = {(t, pe): io.read_json(layout.eval_json(t, pe))["lengths"] for t in tasks for pe in pes}
    trains = {(t, pe): io.read_json(layout.train_log(t, pe))["summary"] for t in tasks for pe in pes}
    imdb_evals = {pe: io.read_json(layout.eval_json(IMDB, pe))["lengths"] for pe in pes}
    imdb_trains = {pe: io.read_json(layout.train_log(IMDB, pe))["summary"] for pe in pes}
    probes = {(t, pe): io.read_json(layout.probe_json(t, pe)) for t in (*tasks, IMDB) for pe in pes}
    return evals, trains, imdb_evals, imdb_trains, io.read_json(layout.imdb_summary), probes


def scored(acc: float, loss: float) -> float:
    """The course scores a model whose loss is NaN or inf as 0 points, whatever its argmax hits."""
    return acc if math.isfinite(loss) else 0.0


def aggregate(cfg: Config, evals: dict[tuple[str, str], dict], trains: dict[tuple[str, str], dict],
              imdb_evals: dict[str, dict], imdb_trains: dict[str, dict], imdb_data: dict,
              probes: dict[tuple[str, str], dict]) -> dict:
    """Build results.json. `evals[(task, pe)]` is evaluate_lm's output,
    `trains[(task, pe)]` the training summary; `imdb_evals[pe]` is
    evaluate_classifier's output, `imdb_trains[pe]` its training summary,
    `imdb_data` prepare_imdb's summary and `probes[(task or "imdb", pe)]` the
    probe stage's output.

    Top of the file keeps the seed's schema: synthetic[L][pe] = token accuracy
    of the headline task, imdb[pe] = {acc_L, f1_L, loss_L}. Everything else
    sits beside them. Accuracies at a length where the loss is not finite are 0.
    """
    s = cfg.synthetic
    results: dict = {"synthetic": {}}
    for L in s.eval_lengths:
        results["synthetic"][str(L)] = {pe: scored(evals[(s.headline_task, pe)][str(L)]["token_acc"],
                                                   evals[(s.headline_task, pe)][str(L)]["loss"]) for pe in cfg.pes}
    results["headline_task"] = s.headline_task
    results["tasks"] = {}
    for task in s.tasks:
        per_pe = {}
        for pe in cfg.pes:
            ev, tr = evals[(task, pe)], trains[(task, pe)]
            per_pe[pe] = {
                **{key("acc", L): scored(ev[str(L)]["token_acc"], ev[str(L)]["loss"]) for L in s.eval_lengths},
                **{key("exact", L): ev[str(L)]["exact_match"] for L in s.eval_lengths},
                **{key("loss", L): ev[str(L)]["loss"] for L in s.eval_lengths},
                "train_steps": tr["steps"],
                "converged": tr["converged"],
            }
        results["tasks"][task] = per_pe
    results["curves"] = {
        task: {pe: {L: scored(ev["token_acc"], ev["loss"]) for L, ev in sorted(evals[(task, pe)].items(),
                                                                              key=lambda kv: int(kv[0]))}
               for pe in cfg.pes}
        for task in s.tasks
    }
    results.update(imdb_results(cfg, imdb_evals, imdb_trains, imdb_data))
    results["stability"] = {
        **{task: {pe: stability(cfg, probes[(task, pe)], [ev["loss"] for ev in evals[(task, pe)].values()])
                  for pe in cfg.pes} for task in s.tasks},
        IMDB: {pe: stability(cfg, probes[(IMDB, pe)], [ev["loss"] for ev in imdb_evals[pe].values()])
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


def imdb_results(cfg: Config, evals: dict[str, dict], trains: dict[str, dict], data: dict) -> dict:
    """imdb[pe] (flat, for `dvc metrics diff`), imdb_buckets[pe][L][bucket] and imdb_data."""
    lengths = [str(L) for L in cfg.imdb.eval_lengths]
    out: dict = {"imdb": {}, "imdb_buckets": {}}
    for pe in cfg.pes:
        ev, tr = evals[pe], trains[pe]
        out["imdb"][pe] = {
            **{key("acc", L): scored(ev[L]["acc"], ev[L]["loss"]) for L in lengths},
            **{key(m, L): ev[L][m] for m in ("f1", "loss") for L in lengths},
            "best_epoch": tr["best_epoch"],
            "train_steps": tr["steps"],
        }
        out["imdb_buckets"][pe] = {L: {name: {k: b[k] for k in ("acc", "f1", "loss", "n")}
                                       for name, b in ev[L]["buckets"].items()} for L in lengths}
    test = data["lengths"]["test"]
    out["imdb_data"] = {"vocab_size": data["vocab_size"],
                        **{f"{k}_reviews": data["lengths"][k]["n_reviews"] for k in ("train", "val", "test")},
                        "test_lengths": {k: v for k, v in test.items() if k.startswith(("p", "frac_", "buckets"))}}
    return out
