"""Evaluation of a trained causal LM at every length.

Per length L: teacher-forced token accuracy on target positions, sequence exact
match (every target token right: under teacher forcing this equals free-running
decoding, since one wrong step fails the sequence either way), mean target loss,
and the per-sequence numbers behind them (for bootstrap intervals over
sequences, reporting/stats.py). A non-finite loss is reported as NaN, never raised.
"""

from __future__ import annotations

import math

import numpy as np

from posenc.analysis.errors import error_profile, recorded_predictions, targets_right
from posenc.config import Config
from posenc.data import synthetic
from posenc.data.synthetic import Sources
from posenc.engine.lm import score_sequences
from posenc.engine.runtime import Runtime, resolve


def evaluate_lm(model, splits: dict[str, Sources], task: str, cfg: Config, lengths: list[int],
                rt: Runtime | None = None, variant: str | None = None, reuse: dict | None = None,
                pairs: dict[int, np.ndarray] | None = None) -> dict[str, dict]:
    """{str(L): {"token_acc", "exact_match", "loss", "n_seqs", "seq_len", "per_seq"}} for each L,
    in the training precision. per_seq: {"right", "exact", "loss"} lists (targets per sequence in
    "targets": every sequence of one length has the same number).

    `variant`: one of the PE's evaluation variants (nn/pe/base.py), set per length for inputs
    L / train_max_len times the training length; at lengths where that is <= 1 the variant is the
    trained PE, and `reuse` (the plain evaluation) gives those numbers without recomputing them.
    `pairs`: {L: errors.pair_ambiguous() mask}; at those lengths, where the errors are (analysis/errors.py)
    is added: "span_targets" and per_seq "right_by_part", "wrong_at_pairs", "pairs"."""
    pairs = pairs or {}
    rt = rt or resolve(cfg.runtime.dtype)
    model.to(rt.device)
    out = {}
    for L in lengths:
        sources = splits.get(f"eval_{L}")
        if sources is None:
            raise KeyError(f"eval_{L}")
        scale = L / cfg.synthetic.train_max_len
        if variant is not None and scale <= 1 and reuse is not None:
            out[str(L)] = reuse[str(L)]
            continue
        model.pe.set_variant(variant, scale)
        with recorded_predictions(model) as preds:
            sc = score_sequences(model, sources, task, cfg, rt)
        total = int(sc["targets"].sum())
        loss = float(sc["loss_sum"].sum()) / total
        out[str(L)] = {
            "token_acc": int(sc["right"].sum()) / total,
            "exact_match": float(sc["exact"].mean()),
            "loss": loss if math.isfinite(loss) else float("nan"),
            "n_seqs": len(sources),
            "seq_len": synthetic.total_length(task, int(sources.lengths[0])),
            "targets": int(sc["targets"][0]),
            "per_seq": {"right": sc["right"].tolist(), "exact": sc["exact"].tolist(),
                        "loss": (sc["loss_sum"] / sc["targets"]).round(6).tolist()},
        }
        if L in pairs:
            right_at = targets_right(preds, sources, task, cfg.synthetic.vocab_size, cfg.evaluate.batch_size)
            profile = error_profile(right_at, pairs[L])
            out[str(L)]["span_targets"] = profile["span_targets"]
            out[str(L)]["per_seq"].update(profile["per_seq"])
    model.pe.set_variant(None, 1.0)
    return out
