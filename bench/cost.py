"""`make bench`: throughput, memory and overhead of every PE against a no-PE baseline, in float32 and in
bf16 autocast, on this machine -> bench/profile.json (committed; the report names the CPU it came from).

Not a DVC stage: timings change on every run, and `dvc repro` must leave the work tree unchanged
when nothing changed. Run it on an otherwise idle machine.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stages"))

import _cli  # noqa: E402

from posenc import config, io  # noqa: E402
from posenc.analysis.profiling import profile  # noqa: E402
from posenc.artifacts import Layout  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", default=str(Layout().profile), help="where to write the profile (.json)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="measure every PE and length this many times, interleaved; the profile keeps medians "
                         "and the overhead's range (one round is quicker and noisier)")
    ap.add_argument("--bf16-lengths", type=int, nargs="+", default=None, metavar="L",
                    help="measure bf16 autocast at these profile lengths only (default: every one); the report "
                         "shows bf16 at the training length, and without native bf16 it is most of the time")
    args = ap.parse_args()
    cfg = config.load(args.params)

    def progress(pe, L, dtype, r):
        print(f"{pe:>10} @ {L:>5} {dtype:>8}: forward {r['forward_tokens_per_s']:9.0f} tok/s, "
              f"train {r['train_tokens_per_s']:8.0f} tok/s, peak {r['peak_mem_mib']:7.0f} MiB", flush=True)

    if args.rounds < 1:
        ap.error(f"--rounds must be >= 1, got {args.rounds}")
    extra = sorted(set(args.bf16_lengths or []) - set(cfg.profile.lengths))
    if extra:
        ap.error(f"--bf16-lengths {extra} are not among profile.lengths {list(cfg.profile.lengths)} in {args.params}")
    out = profile(cfg, progress, rounds=args.rounds, bf16_lengths=args.bf16_lengths)
    io.write_json(args.out, out)
    print(f"wrote {args.out} ({out['device_name']}, native bf16: {', '.join(out['native_bf16']) or 'no'}, "
          f"dense matmul {out['matmul']['flops_per_s'] / 1e9:.0f} GFLOP/s, {args.rounds} rounds, bf16 at "
          f"{', '.join(map(str, out['bf16_lengths']))})")


if __name__ == "__main__":
    _cli.run(main)
