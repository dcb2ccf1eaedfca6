"""The sinusoidal PE on IMDb past the training length: is it the unseen phases that push the verdicts?

The sinusoidal code is defined at every position, so a review cut at 1,024 tokens gives its late tokens
codes whose slow frequencies are at phases no training input reached (nn/pe/sinusoidal.py). If those
phases are what moves a classifier's verdicts on long reviews, codes the model did see should not. This
evaluates trained IMDb classifiers with the codes past the training length T replaced, no retraining
(every position below T left as trained, but by squeeze, which rescales the whole sequence):

    trained   the true codes (what the pipeline evaluates)
    zero      no code past T (those tokens carry no position, as NoPE's do)
    clamp     the code of position T - 1 for every later token (one shared vector, as the learned PE does)
    squeeze   position p -> p (T - 1) / (n - 1) for a sequence of n > T tokens (position interpolation,
              Chen et al. 2023, on the absolute code): every code within the trained phases

Evaluation as the pipeline does it (analysis/evaluate_imdb.evaluate_classifier), in the workspace's
precision; per run and length the accuracy, and from T on where the changed predictions go
("changed_to": to negative, to positive; reporting/results.changed_to).

    python bench/sinusoidal_late.py --root /tmp/ws --seeds 0 1 2 --codes trained zero clamp squeeze

About 40 s per classifier and code on a 2-core CPU (5,000 test reviews). Writes bench/sinusoidal_late.json.
"""

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from learned_clamp import changed, run_all  # noqa: E402

from posenc.analysis.evaluate_imdb import evaluate_classifier  # noqa: E402
from posenc.errors import ConfigError, PosencError  # noqa: E402

CODES = ("trained", "zero", "clamp", "squeeze")


def late_codes(table: torch.Tensor, positions: torch.Tensor, T: int, how: str) -> torch.Tensor:
    """The codes (positions.shape + (D,)) added at `positions` when those from T on are replaced as `how` says;
    squeeze maps a batch's positions 0..n-1 (n: its padded length) onto [0, T - 1]."""
    if how not in CODES:
        raise ConfigError(f"--codes {how!r}: expected one of {', '.join(CODES)}")
    codes = table[positions]  # (..., D)
    late = positions >= T
    if how == "trained" or not late.any():
        return codes
    if how == "zero":
        return torch.where(late[..., None], torch.zeros_like(codes), codes)
    if how == "clamp":
        return table[positions.clamp(max=T - 1)]
    n = int(positions.max()) + 1
    p = positions.to(torch.float64) * (T - 1) / (n - 1)  # (...,)
    d = table.shape[-1]
    inv_freq = torch.exp(-torch.log(torch.tensor(10000.0, dtype=torch.float64))
                         * torch.arange(0, d, 2, dtype=torch.float64) / d)  # (D/2,), as nn/pe/sinusoidal.py
    out = torch.zeros(*positions.shape, d, dtype=torch.float64)
    out[..., 0::2], out[..., 1::2] = torch.sin(p[..., None] * inv_freq), torch.cos(p[..., None] * inv_freq)
    return out.to(table.dtype)


@contextmanager
def replaced(model, T: int, how: str):
    """Within the block the model's sinusoidal PE adds late_codes() instead of its table's rows."""
    pe = model.pe
    pe.embed = lambda x, positions: x + late_codes(pe.table, positions, T, how)  # (B, n, D) + (..., n, D)
    try:
        yield model
    finally:
        del pe.embed  # back to the class's method


def scored(model, test, cfg, rt, T: int, how: str) -> dict:
    """One classifier evaluated with the late codes `how`: per length the accuracy and changed()."""
    with replaced(model, cfg.imdb.train_max_len, how):
        scores = evaluate_classifier(model, test, cfg, rt)
    return {L: {"acc": s["acc"], **changed(scores, T, L)} for L, s in scores.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="a workspace holding params.yaml, models/ and data/imdb/")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--codes", nargs="+", default=list(CODES))
    ap.add_argument("--out", default="bench/sinusoidal_late.json")
    args = ap.parse_args()
    run_all(Path(args.root).expanduser(), "sinusoidal", args.seeds, args.codes, args.out, scored)


if __name__ == "__main__":
    try:
        main()
    except PosencError as e:
        sys.exit(f"error: {e}")
