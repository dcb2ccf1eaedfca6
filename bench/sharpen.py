"""Is a model's loss past the training length attention dilution? Sharpen some heads at evaluation and see.

A head with no position bias (NoPE's heads, hard_alibi's unwindowed heads) matches by content alone: past
the training length more keys compete in its softmax, and the weight left on the right key falls (Chiang
and Cholak 2022 show this dilution for any fixed-size logits, and propose scaling the logits by log n).
This evaluates trained checkpoints with the logits of the chosen heads (every layer) multiplied by a
factor, with no retraining:

    const:c   c at every position (a colder softmax everywhere, in and beyond the training length)
    logn:p    max(1, log(i + 1) / log(T)) ** p at query position i, T the longest training sequence
              (log-length scaling: 1 inside the training length)

and splits each length's errors into those at repeated pairs (targets where the 2-token lookup rule is
wrong, analysis/errors.py) and the rest. Dilution predicts errors that fall as the factor grows; errors a
colder softmax does not remove are not dilution. The heads are named by the caller (`--heads`): which
heads carry no position bias is the PE's own business (for hard_alibi, those after its windows).

    python bench/sharpen.py --root ~/.cache/posenc-study --pe hard_alibi --heads 3 \
        --factors const:1 const:2 const:8 logn:4 --seeds 0 1 2

Evaluates in float32, every sequence of each length; about 30 s per model and factor on a 2-core CPU for
256/512/1024. Writes bench/sharpen.json (runs keyed by task, PE, seed and factor).
"""

import argparse
import math
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from time_to_accuracy import cpu_model  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.analysis.errors import pair_ambiguous  # noqa: E402
from posenc.analysis.evaluate import evaluate_lm  # noqa: E402
from posenc.artifacts import Layout  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.engine.runtime import resolve  # noqa: E402
from posenc.errors import ConfigError, PosencError  # noqa: E402
from posenc.nn.checkpoint import load_model  # noqa: E402


def factor_of(spec: str, longest: int):
    """'const:c' or 'logn:p' -> positions (T,) -> factors (T,); anything else is a one-line error."""
    kind, _, value = spec.partition(":")
    try:
        x = float(value)
    except ValueError:
        x = float("nan")
    if kind not in ("const", "logn") or not x > 0:
        raise ConfigError(f"--factors {spec!r}: expected const:<c> or logn:<p> with a number > 0")
    if kind == "const":
        return lambda pos: torch.full(pos.shape, x)
    return lambda pos: (torch.log(pos.float() + 1) / math.log(longest)).clamp(min=1.0) ** x


@contextmanager
def sharpened(model, heads: list[int], factor):
    """Within the block, the logits q k^T of `heads` (every layer) at query position i are multiplied by
    factor(positions)[i]: q of those heads is scaled after the PE's own rotation, so biases and masks are
    left as they are. The model is restored on exit."""
    n_heads = model.spec.n_heads
    if not heads or any(not 0 <= h < n_heads for h in heads):
        raise ConfigError(f"--heads {heads}: expected head indices in 0..{n_heads - 1}")
    pe, plain = model.pe, model.pe.rotate

    def rotate(q, k, positions):  # q, k: (B, H, T, Dh); positions (T,) or (B, T)
        q, k = plain(q, k, positions)
        f = factor(positions if positions.dim() == 1 else positions[0]).to(q.dtype)  # (T,)
        scale = torch.ones(n_heads, q.shape[2], 1, dtype=q.dtype, device=q.device)  # (H, T, 1)
        scale[heads] = f[None, :, None].to(q.device)
        return q * scale, k

    pe.rotate = rotate
    try:
        yield model
    finally:
        del pe.rotate  # back to the class's method


def score(model, splits, task: str, cfg, lengths: list[int]) -> dict:
    """{L: token_acc, exact_match, n_seqs, errors per sequence at repeated pairs and elsewhere}."""
    pairs = {L: pair_ambiguous(splits[f"eval_{L}"], task, cfg.synthetic.vocab_size) for L in lengths}
    out = {}
    for L, s in evaluate_lm(model, splits, task, cfg, lengths, rt=resolve("float32"), pairs=pairs).items():
        wrong = s["targets"] * s["n_seqs"] - sum(s["per_seq"]["right"])
        at_pairs = float(np.sum(s["per_seq"]["wrong_at_pairs"]))
        out[L] = {"token_acc": s["token_acc"], "exact_match": s["exact_match"], "n_seqs": s["n_seqs"],
                  "pair_errors_per_seq": round(at_pairs / s["n_seqs"], 4),
                  "other_errors_per_seq": round((wrong - at_pairs) / s["n_seqs"], 4),
                  "pair_error_rate": round(at_pairs / max(1, int(np.sum(s["per_seq"]["pairs"]))), 4)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="a workspace holding params.yaml, models/ and data/")
    ap.add_argument("--pe", required=True)
    ap.add_argument("--heads", type=int, nargs="+", required=True)
    ap.add_argument("--factors", nargs="+", default=["const:1", "const:2", "const:8", "logn:4"])
    ap.add_argument("--task", default="copy")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--out", default="bench/sharpen.json")
    args = ap.parse_args()
    root = Path(args.root).expanduser()
    cfg, layout = config.load(root / "params.yaml"), Layout(root)
    longest = synthetic.total_length(args.task, synthetic.n_for_length(args.task, cfg.synthetic.train_max_len))
    factors = {spec: factor_of(spec, longest) for spec in args.factors}
    far = layout.far_data(args.task)
    splits = synthetic.load_for_eval(layout.synthetic_data(args.task), args.task, cfg.synthetic,
                                     far=far if far.exists() else None)
    old = io.read_json(args.out) if Path(args.out).exists() else {"runs": {}}
    runs = old["runs"]
    for seed in args.seeds:
        model, _ = load_model(layout.checkpoint(args.task, args.pe, seed))
        model.eval()
        for spec, factor in factors.items():
            with sharpened(model, args.heads, factor):
                result = score(model, splits, args.task, cfg, args.lengths)
            runs[f"{args.task}-{args.pe}-{seed}-{spec}"] = {"heads": args.heads, "eval": result}
            said = ", ".join(f"@{L} {v['exact_match']:.3f}" for L, v in result.items())
            print(f"{args.task} {args.pe} seed {seed}, heads {args.heads} x {spec}: exact {said}")
    io.write_json(args.out, {"cpu_model": cpu_model(), "torch": torch.__version__, "dtype": "float32",
                             "runs": runs})


if __name__ == "__main__":
    try:
        main()
    except PosencError as e:
        sys.exit(f"error: {e}")
