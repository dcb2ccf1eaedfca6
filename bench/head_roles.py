"""Which heads does a trained copy model form? A previous-token head, a source (copy) head, or neither.

Copying by content (an induction circuit, Olsson et al. 2022) needs a head that moves each token's
predecessor into its residual stream (a *previous-token head*: query t attends to key t - 1), then a
head that finds the source token whose predecessor matches the current token. Copying by position needs
a head that attends to the source key t - n directly. A head that attends to key t - 1 has to tell
t - 1 from t - 2, which is a position; a model without positions (NoPE) can only recover position from
the causal mask (Kazemnejad et al. 2023), so this probe asks whether it forms such a head at all.

For each layer and head of a trained model, on the first evaluation sequences at the training length:

    prev    mean weight of query t on key t - 1, over queries t = 1 .. T-1
    source  copy only: mean weight of target query t on its source key t - n (analysis/probes.py)
    first   mean weight on key 0 (an attention sink)
    uniform what `prev` would be if every query spread its weight evenly: mean of 1 / (t + 1)

    python bench/head_roles.py nope rope learned            # copy, seed 0, the study's recipe

About 7 minutes a model on a 2-core CPU (training; the probe takes seconds). Writes bench/head_roles.json.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from pe_sweep import changed, run_args, sweep_data, sweep_splits  # noqa: E402
from time_to_accuracy import cpu_model  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.analysis.evaluate import evaluate_lm  # noqa: E402
from posenc.analysis.probes import source_mass  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.engine.lm import train_lm  # noqa: E402
from posenc.engine.runtime import resolve  # noqa: E402
from posenc.errors import ConfigError  # noqa: E402


def head_roles(weights: list[torch.Tensor], n: int | None) -> dict:
    """weights: per layer (B, H, T, T) causal attention; n: the copy source length (None: not copy).
    {"prev", "first", "source" (or None)}: per layer, per head; "uniform": the even-spread reference of prev."""
    T = weights[0].shape[-1]
    t = torch.arange(1, T)

    def per_head(pick):  # (B, H, ...) -> [[layer 0 heads], [layer 1 heads], ...]
        return [[round(float(x), 4) for x in pick(w.double()).mean(dim=(0, 2))] for w in weights]

    return {"prev": per_head(lambda w: w[:, :, t, t - 1]),
            "first": per_head(lambda w: w[:, :, t, 0]),
            "source": None if n is None else [[round(x, 4) for x in layer] for layer in source_mass(weights, n)],
            "uniform": round(float((1.0 / (t + 1).double()).mean()), 4)}


@torch.no_grad()
def probe(model, splits, task: str, cfg: config.Config, size: int) -> dict:
    """head_roles on the first `size` evaluation sequences at the training length."""
    L = cfg.synthetic.train_max_len
    sources = splits[f"eval_{L}"]
    idx, _ = synthetic.make_batch([sources.get(i) for i in range(min(size, len(sources)))], task,
                                  cfg.synthetic.vocab_size)
    model.cpu().eval()
    _, weights = model(idx, need_weights=True)
    return head_roles([w.float() for w in weights], int(sources.lengths[0]) if task == "copy" else None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pes", nargs="+")
    ap.add_argument("--size", type=int, default=64, help="evaluation sequences probed")
    args = run_args(ap, "study/params.yaml", "bench/head_roles.json").parse_args()
    cfg, done = changed(config.load(args.params), args.items)
    splits = sweep_splits(cfg, args.task, sweep_data(args.task))  # pe_sweep's sets
    rt = resolve(cfg.runtime.dtype)
    for pe in args.pes:
        model = train_lm(cfg, pe, args.task, splits, args.seed, progress=False, rt=rt)["model"]
        L = cfg.synthetic.train_max_len
        score = evaluate_lm(model, splits, args.task, cfg, [L], rt=rt)[str(L)]
        result = {"pe": pe, "task": args.task, "seed": args.seed, "dtype": rt.dtype, "set": done,
                  "eval": {k: score[k] for k in ("token_acc", "exact_match")},
                  "roles": probe(model, splits, args.task, cfg, args.size)}
        old = io.read_json(args.out) if Path(args.out).exists() else {"runs": {}}
        io.write_json(args.out, {"cpu_model": cpu_model(), "torch": torch.__version__, "params": args.params,
                                 "probed": f"first {args.size} evaluation sequences at {L}",
                                 "runs": {**old["runs"], f"{args.task}-{pe}-{args.seed}": result}})
        best = [max(layer) for layer in result["roles"]["prev"]]
        print(f"{pe}: exact @{L} {score['exact_match']:.3f}; largest prev-token weight per layer {best} "
              f"(even spread {result['roles']['uniform']})", flush=True)


if __name__ == "__main__":
    try:
        main()
    except ConfigError as e:
        sys.exit(f"error: {e}")
