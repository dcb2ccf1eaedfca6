"""Where each model's errors are, in results.json (analysis/errors.py records them; issue 15: "say why").

Per task, PE row and evaluation length, from every seed's evaluation (results.json `errors`):
- `span`: token accuracy on each eighth of the target span, in order, with 95 % intervals (`span_ci`);
- `errors_at_pairs`: the share of wrong targets that sit at a repeated token pair (the 2-token lookup
  rule's wrong targets), with its interval, beside `pair_share`, those targets' share of all targets.
Intervals as everywhere (stats.py): a t interval over seeds with three or more, else a bootstrap over
sequences, or where that collapses to a point the Wilson interval of the pooled targets
(stats.share_interval). The report reads them in reporting/errors_text.py.
"""

from __future__ import annotations

import warnings

import numpy as np

from posenc.reporting import stats


def _share(at_pairs: np.ndarray, wrong: np.ndarray):
    """Mean over seeds of (wrong targets at pairs) / (wrong targets); NaN for a seed with no wrong target.
    (..., S, N) -> (...): a float for one model, one value per resample for the bootstrap."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # every seed without a wrong target: NaN, said here
        share = np.nanmean(at_pairs.sum(-1) / wrong.sum(-1), axis=-1)
    return float(share) if np.ndim(share) == 0 else share


def profile_row(evs: list[dict]) -> dict | None:
    """results.json errors[task][row][L] from one length's evaluation of every seed; None if not recorded."""
    if "span_targets" not in evs[0]:
        return None
    den = np.asarray(evs[0]["span_targets"], dtype=float)  # (P,)
    parts = np.array([ev["per_seq"]["right_by_part"] for ev in evs], dtype=float)  # (S, N, P)
    n = parts.shape[1]
    wrong = np.array([[evs[0]["targets"] - r for r in ev["per_seq"]["right"]] for ev in evs], dtype=float)  # (S, N)
    at_pairs = np.array([ev["per_seq"]["wrong_at_pairs"] for ev in evs], dtype=float)  # (S, N)
    span_seeds = parts.sum(1) / (n * den)  # (S, P)
    if len(evs) >= stats.MIN_SEEDS:
        span_ci = [stats.t_interval(span_seeds[:, j], stats.SHARE) for j in range(len(den))]
        with np.errstate(invalid="ignore", divide="ignore"):
            pairs_ci = stats.t_interval(at_pairs.sum(1) / wrong.sum(1), stats.SHARE)
    else:
        span_ci = [stats.bootstrap_interval(parts[..., j], lambda x, d=den[j]: x.sum(2).mean(1) / (x.shape[2] * d))
                   for j in range(len(den))]
        both = np.stack([at_pairs, wrong], axis=-1)  # (S, N, 2): resampled together
        pairs_ci = stats.bootstrap_interval(both, lambda x: _share(x[..., 0], x[..., 1]))
    span_ci = [stats.share_interval(ci, parts[..., j].sum(), parts[..., j].size * den[j])  # right of all targets
               for j, ci in enumerate(span_ci)]
    pairs_ci = stats.share_interval(pairs_ci, at_pairs.sum(), wrong.sum())  # none of 40 wrong at pairs: up to 9 %
    return {"span": span_seeds.mean(0).tolist(), "span_ci": span_ci, "wrong_per_seq": float(wrong.mean()),
            "pair_share": float(np.sum(evs[0]["per_seq"]["pairs"]) / (n * evs[0]["targets"])),
            "errors_at_pairs": _share(at_pairs, wrong), "errors_at_pairs_ci": pairs_ci}


def error_results(evals: dict, task: str, names: list[str], seeds: list[int], lengths: list[int]) -> dict:
    """{row: {str(L): profile_row}} for every row of a task, at the lengths where it was recorded."""
    out = {}
    for name in names:
        rows = {str(L): profile_row([evals[(task, name, sd)][str(L)] for sd in seeds]) for L in lengths}
        out[name] = {L: row for L, row in rows.items() if row is not None}
    return out
