"""Past the training length, does T5's copy follow the bias of the bucket its copy distance falls in?

On a teacher-forced copy or duplicate sequence of n source tokens, [a_1..a_n, SEP, a_1..a_n(, a_1..a_n)],
the position p that predicts a target of the first copy finds it n positions back, at the source
(x[p + 1] == x[p - n]), and one of duplicate's second copy n - 1 back, at the first copy (or 2n back, at
the source): `copy_distances` below, tested on the data's own batches. With T5's bias
(Raffel et al. 2020) every distance maps to a bucket and each head adds the bucket's learned scalar to
the score, so the copy at length L leans on the scalars of bucket(n_L). Inside training the copy
distances are the trained n <= n_train; past it, n_L falls in buckets that training filled for other
roles (duplicate's second copy at 2n, or keys that are never the answer), and the copy is then as good
as whatever scalar those buckets learned, not as the length alone would say.

For each trained T5 model of a study workspace and each evaluation length past the training length,
this prints and keeps: n, bucket(n), each head's scalar there, the evaluation's token accuracy and exact
match, and the same with one intervention: the keys at the copy distances of length L (n_L, and n_L - 1
in duplicate) given the scalars of bucket(n_train), the bucket of the training copy distance, in every
head, every other distance left as trained, the model restored after. Across the lengths it gives
Spearman's rank correlation between the largest scalar over heads at bucket(n_L) and the error per
target, telling only where the lengths' buckets differ (on copy, with the study's params, most
evaluation lengths put n in the last bucket: one scalar, ties). Evaluates in the workspace's precision,
so the plain scores repeat its metrics/eval.

    python bench/t5_buckets.py --root ~/.cache/posenc-study-12k-xeon --task duplicate --seeds 0 1 2
    python bench/t5_buckets.py --root ~/.cache/posenc-study-12k-xeon --task copy --seeds 0 1 2

Writes bench/t5_buckets.json (runs keyed by task and seed).
"""

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from scipy import stats  # noqa: E402
from time_to_accuracy import cpu_model  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.analysis.evaluate import evaluate_lm  # noqa: E402
from posenc.artifacts import Layout  # noqa: E402
from posenc.data import synthetic  # noqa: E402
from posenc.engine import runtime  # noqa: E402
from posenc.errors import ConfigError, PosencError  # noqa: E402
from posenc.nn.checkpoint import load_model  # noqa: E402
from posenc.nn.pe.t5 import relative_bucket  # noqa: E402


def copy_distances(task: str, length: int) -> list[int]:
    """The distances from a predicting position back to the nearest earlier copy of its answer: n (the source
    length) in the first copy, n - 1 in every later one (the previous copy, with no SEP in between)."""
    n = synthetic.n_for_length(task, length)
    return [n - 1, n] if synthetic.REPEATS[task] > 1 else [n]


def bucket_of(model, distance: int) -> int:
    """The causal bucket a key `distance` positions back falls in, with the model's own T5 params."""
    p = model.pe.params
    return int(relative_bucket(torch.tensor([-distance]), True, p.num_buckets, p.max_distance)[0])


@contextmanager
def remapped(model, distances: list[int], bucket: int):
    """Within the block the keys exactly `distances` positions back get bucket `bucket`'s scalars (every head)
    instead of their own bucket's; every other distance keeps its bias. Restored on exit."""
    pe, plain = model.pe, model.pe.score_bias

    def score_bias(q_positions, k_positions):  # (Tq,), (Tk,) -> (H, Tq, Tk)
        bias = plain(q_positions, k_positions)
        at = torch.isin(q_positions[:, None] - k_positions[None, :], torch.tensor(distances))  # (Tq, Tk)
        return torch.where(at[None], pe.bias.weight[bucket][:, None, None].to(bias.dtype), bias)

    pe.score_bias = score_bias
    try:
        yield model
    finally:
        del pe.score_bias  # back to the class's method


def scores(result: dict) -> dict:
    return {"token_acc": result["token_acc"], "exact_match": result["exact_match"]}


def probe(model, splits, task: str, cfg, rt, lengths: list[int]) -> dict:
    """{L: n, bucket(n), its scalars per head, plain scores, and scores with the keys at the copy distances
    given the scalars of bucket(n_train)}."""
    if not hasattr(model.pe, "bias") or not hasattr(model.pe.params, "max_distance"):
        raise ConfigError("t5_buckets: the checkpoint's PE is not T5's bucketed bias")
    trained = bucket_of(model, max(copy_distances(task, cfg.synthetic.train_max_len)))
    plain = evaluate_lm(model, splits, task, cfg, lengths, rt=rt)
    out = {}
    for L in lengths:
        distances = copy_distances(task, L)
        n = max(distances)
        b = bucket_of(model, n)
        row = {"n": n, "bucket": b, "trained_bucket": trained,
               "scalars": [round(x, 4) for x in model.pe.bias.weight[b].tolist()], **scores(plain[str(L)])}
        if b != trained:
            with remapped(model, distances, trained):
                row["remapped"] = scores(evaluate_lm(model, splits, task, cfg, [L], rt=rt)[str(L)])
        out[str(L)] = row
    return out


def correlation(rows: dict) -> dict:
    """Spearman's rho over lengths between the largest scalar at bucket(n) and the error per target."""
    top = [max(r["scalars"]) for r in rows.values()]
    err = [1 - r["token_acc"] for r in rows.values()]
    rho, p = stats.spearmanr(top, err)
    return {"rho": round(float(rho), 4), "p": round(float(p), 4), "lengths": len(rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="a study workspace holding params.yaml, models/, data/, metrics/")
    ap.add_argument("--task", default="duplicate")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", default="bench/t5_buckets.json")
    args = ap.parse_args()
    root = Path(args.root).expanduser()
    cfg, layout = config.load(root / "params.yaml"), Layout(root)
    rt = runtime.load(root / "metrics/runtime.json", cfg.runtime.dtype)
    lengths = [L for L in synthetic.eval_lengths(cfg.synthetic) if L > cfg.synthetic.train_max_len]
    splits = synthetic.load_for_eval(layout.synthetic_data(args.task), args.task, cfg.synthetic)
    old = io.read_json(args.out) if Path(args.out).exists() else {"runs": {}}
    runs = old["runs"]
    for seed in args.seeds:
        model, _ = load_model(layout.checkpoint(args.task, "t5", seed))
        rows = probe(model.eval(), splits, args.task, cfg, rt, lengths)
        kept = io.read_json(root / f"metrics/eval/{args.task}_t5_s{seed}.json")["lengths"]
        repeats = all(kept[L]["exact_match"] == r["exact_match"] and kept[L]["token_acc"] == r["token_acc"]
                      for L, r in rows.items())
        runs[f"{args.task}-t5-{seed}"] = {"lengths": rows, "spearman": correlation(rows), "repeats_eval": repeats}
        print(f"{args.task} t5 seed {seed}: the plain scores {'repeat' if repeats else 'DO NOT repeat'} metrics/eval")
        for L, r in rows.items():
            moved = f", remapped {100 * r['remapped']['exact_match']:.1f} %" if "remapped" in r else ""
            print(f"{args.task} t5 seed {seed} @{L}: n {r['n']}, bucket {r['bucket']}, scalars {r['scalars']}, "
                  f"exact {100 * r['exact_match']:.1f} %{moved}")
        print(f"  Spearman (largest scalar at bucket(n), error per target): {runs[f'{args.task}-t5-{seed}']['spearman']}")
    io.write_json(args.out, {"cpu_model": cpu_model(), "torch": torch.__version__, "dtype": rt.dtype,
                             "root": str(args.root), "runs": runs})


if __name__ == "__main__":
    try:
        main()
    except PosencError as e:
        sys.exit(f"error: {e}")
