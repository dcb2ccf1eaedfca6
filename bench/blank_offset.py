"""Why no PE learns the blank format: is it that the copy offset changes from sequence to sequence?

In `copy_blank` (a1..an SEP _ .. _) the placeholder at position n+1+k must read a_k at position k: an
offset of n+1, the same for every placeholder of one sequence but different between sequences, since
training draws n uniformly. Teacher-forced copy needs no offset at all (the previous target token is in
the input, and matching it in the source finds the next one). A PE whose bias depends only on i - j
(RoPE, T5, FIRE, ALiBi) can attend at one fixed offset but has no way to know n; an absolute PE can read
n from where SEP sits. This trains each PE twice on the study's model and recipe, at a short length
(`--length`, 64 tokens: n = 31) with `--steps` steps: once with n drawn uniformly as in the pipeline
("varied"), once with every training sequence at n = 31 ("fixed", one offset), and scores both on the
same evaluation set at that length (every sequence n = 31). If the varying offset is what defeats the
relative PEs, they learn the fixed arm; ALiBi should not even then (its bias only falls with distance,
so it cannot single out the token n+1 back).

    python bench/blank_offset.py rope alibi learned nope --steps 2000   # output bench/blank_offset.json
    python bench/blank_offset.py fire --steps 4000 --arms fixed --set pe.fire.init_L=64   # one arm, a PE's params changed
    python bench/blank_offset.py fire --steps 4000 --arms fixed --mlp-lr 10   # FIRE's MLP at 10x the learning rate

Each run also keeps `peak_margin`: the PE's learned distance bias at the copy offset above its neighbours'
(bench/fire_offset.json; None for a PE with no score bias).

About 1-2 minutes a model on a 2-core CPU. Nothing here writes to the pipeline's outputs.
"""

import argparse
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from pe_sweep import changed, keyed, mlp_lr, save, tagged  # noqa: E402
from time_to_accuracy import cpu_model  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.analysis.evaluate import evaluate_lm  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.data.synthetic import Sources  # noqa: E402
from posenc.engine.lm import train_lm  # noqa: E402
from posenc.engine.runtime import resolve  # noqa: E402
from posenc.errors import ConfigError  # noqa: E402

TASK = "copy_blank"


def fixed_pool(size: int, n: int, vocab_size: int, seed: int) -> Sources:
    """`size` training sources, every one of length n (tokens uniform, as the pipeline draws them)."""
    tokens = np.random.default_rng([seed, n, 7]).integers(0, vocab_size, size=size * n)
    return Sources(np.full(size, n, dtype=np.int64), tokens.astype(np.uint8 if vocab_size + 2 <= 256 else np.int16))


def arms(cfg: config.Config, data: Path) -> dict[str, dict[str, Sources]]:
    """{"varied": the pipeline's splits at cfg's training length, "fixed": the same but a training pool of
    as many sources, all at the longest n}; validation and evaluation sets are shared (all at that n)."""
    if not data.exists():
        io.save_npz(data, synthetic.generate(cfg.synthetic, TASK, cfg.seed))
    varied = synthetic.load(data, TASK, cfg.synthetic.vocab_size)
    n = synthetic.n_for_length(TASK, cfg.synthetic.train_max_len)
    pool = fixed_pool(cfg.synthetic.train_size, n, cfg.synthetic.vocab_size, cfg.seed)
    return {"varied": varied, "fixed": {**varied, "train": pool}}


@torch.no_grad()
def peak_margin(model, n: int, length: int) -> float | None:
    """A learned distance bias (score_bias) at the copy offset n + 1 minus the larger of its two neighbours',
    per head, largest over heads, mean over the placeholders' queries; None for a PE with no such bias."""
    pos = torch.arange(length)
    bias = model.pe.score_bias(pos, pos)  # (H, T, T) or None
    if bias is None:
        return None
    bias = bias.float()
    q = torch.arange(n + 1, min(2 * n + 1, length))  # the placeholders read key q - (n + 1)
    at = bias[:, q, q - n - 1]
    nearer, farther = bias[:, q, q - n], bias[:, q, (q - n - 2).clamp(min=0)]
    side = torch.where(q - n - 2 >= 0, torch.maximum(nearer, farther), nearer)  # the first has no key farther back
    return round(float((at - side).max(0).values.mean()), 4)


def run(cfg: config.Config, pe: str, splits: dict[str, Sources], seed: int, lr_scale: float = 1.0) -> dict:
    """Train one model on `splits` and score it at the training length."""
    rt = resolve(cfg.runtime.dtype)
    start = time.perf_counter()
    with mlp_lr(lr_scale) if lr_scale != 1 else nullcontext():
        out = train_lm(cfg, pe, TASK, splits, seed, progress=False, rt=rt)
    wall = time.perf_counter() - start
    L = cfg.synthetic.train_max_len
    s = evaluate_lm(out["model"], splits, TASK, cfg, [L], rt=rt)[str(L)]
    return {"dtype": rt.dtype, "train_wall_s": round(wall, 1), "train_sequences": len(splits["train"]),
            "checks": out["checks"], "token_acc": s["token_acc"], "exact_match": s["exact_match"],
            "peak_margin": peak_margin(out["model"], synthetic.n_for_length(TASK, L), L)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pes", nargs="+")
    ap.add_argument("--length", type=int, default=64, help="training and evaluation length (tokens)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--params", default="study/params.yaml")
    ap.add_argument("--out", default="bench/blank_offset.json")
    ap.add_argument("--arms", nargs="+", choices=["varied", "fixed"], default=["varied", "fixed"])
    ap.add_argument("--mlp-lr", type=float, default=1.0, metavar="X",
                    help="train the PE's mlp (FIRE's f_theta) at X times the learning rate, nothing else changed")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", dest="items",
                    help="params keys changed for these runs, after the bench's own (section.key=value, YAML)")
    args = ap.parse_args()
    if args.mlp_lr <= 0:
        raise ConfigError(f"--mlp-lr: must be > 0, got {args.mlp_lr}")
    L = args.length
    cfg, _ = changed(config.load(args.params), [
        f"synthetic.train_max_len={L}", f"synthetic.eval_lengths=[{L}]", "synthetic.curve_lengths=[]",
        "synthetic.far_lengths=[]", "synthetic.tasks=[copy_blank]", "synthetic.headline_task=copy_blank",
        f"train.max_steps={args.steps}", f"train.track_every={args.steps}",
        f"probe.lengths=[{L}]", f"probe.map_lengths=[{L}]"])  # unused here, but validated against the lengths
    cfg, done = changed(cfg, args.items)
    data = keyed(cfg, Path(tempfile.gettempdir()) / "posenc_blank_offset" / f"{TASK}.npz")  # named by what made it
    data.parent.mkdir(exist_ok=True)
    splits = arms(cfg, data)
    for pe in args.pes:
        for arm in args.arms:
            r = run(cfg, pe, splits[arm], args.seed, args.mlp_lr)
            lr_tag = f"_mlp_lr{args.mlp_lr:g}" if args.mlp_lr != 1 else ""
            tag = tagged(f"{pe}_{arm}_L{L}_{args.steps}_s{args.seed}{lr_tag}", done)
            save(args.out, tag, {"pe": pe, "task": TASK, "arm": arm, "length": L, "steps": args.steps,
                                 "seed": args.seed, "set": done, "mlp_lr": args.mlp_lr, "cpu_model": cpu_model(), **r},
                 args.params)
            print(f"{tag}: token acc {r['token_acc']:.4f}, exact {r['exact_match']:.3f} "
                  f"({r['train_wall_s']:.0f} s)", flush=True)


if __name__ == "__main__":
    try:
        main()
    except ConfigError as e:
        sys.exit(f"error: {e}")
