"""Stage profile (`make bench`): throughput, memory and overhead of every PE against a no-PE baseline."""

import _cli

from posenc import io
from posenc.analysis.profiling import profile


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__))

    def progress(pe, L, r):
        print(f"{pe:>10} @ {L:>5}: forward {r['forward_tokens_per_s']:9.0f} tok/s, "
              f"train {r['train_tokens_per_s']:8.0f} tok/s, peak {r['peak_mem_mib']:7.0f} MiB", flush=True)

    out = profile(cfg, progress)
    io.write_json(layout.profile, out)
    print(f"wrote {layout.profile} ({out['device']}, dense matmul {out['matmul']['flops_per_s'] / 1e9:.0f} GFLOP/s)")


if __name__ == "__main__":
    _cli.run(main)
