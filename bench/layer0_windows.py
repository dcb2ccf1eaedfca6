"""Hard-ALiBi with every head of the first layer windowed: does it copy further than the study's hard_alibi?

The study's `hard_alibi` (windows [2, 3, 4]) puts the same heads in every layer: three windowed, one
global. Two readings of why its exact match still falls with length point at the first layer: its
global head averages over every earlier token, a summary whose distribution changes with the length
and which every later layer reads; and three windowed heads beside a global one give the lookup in
layer 1 at most a 3-token key, while 2.5 % of the targets follow a repeated pair. Windowing all four
heads of layer 0 (2, 3, 4, 5: the four tokens before each position) removes the first and lengthens the
key. This trains that model exactly as bench/pe_sweep.py trains one (the study's recipe, params and
data; engine/lm.train_lm), then scores it at the evaluation lengths.

The package's backbone shares one bias across layers, so this script gives layer 0 its own by
building the model as `FirstLayerWindowed` (a Transformer whose forward builds one mask per layer);
nothing here changes the pipeline, its models or its lock. Since 2026-12-03 the registry has this model
as a PE, `hard_alibi_ngram` (per-layer windows through PositionalEncoding.layer_biases, plus a curriculum);
this script stays to reproduce bench/layer0_windows.json and bench/wrong_keys.py's `--first` runs.

    python bench/layer0_windows.py --first 2 3 4 5 --rest 2 3 4 --tag first2345_rest234
    python bench/layer0_windows.py --first 2 3 4 5 --rest --tag first2345_rest_global   # layer 1: 4 global heads

About 6-17 minutes a run on a 2-core CPU (measured, see docs/study.md). Output: bench/layer0_windows.json.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from pe_sweep import changed, errors_arg, record, run_args  # noqa: E402

import posenc.engine.lm  # noqa: E402
from posenc import config  # noqa: E402
from posenc.errors import ConfigError  # noqa: E402
from posenc.nn.attention import additive_mask  # noqa: E402
from posenc.nn.backbone import Transformer  # noqa: E402


def per_head(windows, n_heads: int) -> torch.Tensor:
    """(H,) windows, inf for a head without one (hard_alibi's own layout)."""
    w = torch.full((n_heads,), float("inf"))
    w[: len(windows)] = torch.tensor(list(windows), dtype=torch.float32)
    return w


class FirstLayerWindowed(Transformer):
    """A hard_alibi Transformer whose layer 0 has windows `FIRST` and whose later layers have `REST`."""

    FIRST: tuple[int, ...] = ()
    REST: tuple[int, ...] = ()

    def __init__(self, spec):
        super().__init__(spec)
        if spec.pe != "hard_alibi":
            raise ConfigError(f"bench/layer0_windows.py: trains hard_alibi only, got {spec.pe!r}")
        self.layer_windows = [per_head(self.FIRST, spec.n_heads)] + [per_head(self.REST, spec.n_heads)] * (
            spec.n_layers - 1)

    def forward(self, idx, attention_mask=None, need_weights=False, offset: int = 0):
        """As Transformer.forward, with hard_alibi's bias built once per layer from that layer's windows."""
        T = idx.shape[1]
        positions = self.positions(T, idx.device, offset, attention_mask)  # (T,)
        x = self.drop(self.pe.embed(self.tok_emb(idx), positions))  # (B, T, D)
        all_weights = []
        for block, windows in zip(self.blocks, self.layer_windows):
            self.pe.windows = windows.to(idx.device)  # (H,): score_bias reads it
            bias = self.pe.score_bias(positions, positions)  # (H, T, T)
            mask = additive_mask(bias, attention_mask, self.causal, T, T, idx.device)
            x, w = block(x, self.pe, positions, mask, self.causal, self.fused, need_weights)
            all_weights.append(w)
        logits = self.head(self.norm(x))
        return (logits, all_weights) if need_weights else logits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--first", type=int, nargs="+", required=True, help="layer 0's windows, heads 0, 1, ...")
    ap.add_argument("--rest", type=int, nargs="*", required=True, help="the later layers' windows (none: global)")
    ap.add_argument("--tag", required=True, help="the run's name in the output file (a rerun replaces it)")
    args = errors_arg(run_args(ap, "study/params.yaml", "bench/layer0_windows.json")).parse_args()
    cfg, done = changed(config.load(args.params), args.items)
    n_heads = cfg.model.n_heads
    for name, ws in (("--first", args.first), ("--rest", args.rest)):
        if len(ws) > n_heads or min(ws, default=1) < 1:
            raise ConfigError(f"{name}: at most model.n_heads ({n_heads}) windows, each >= 1, got {ws}")
    FirstLayerWindowed.FIRST, FirstLayerWindowed.REST = tuple(args.first), tuple(args.rest)
    posenc.engine.lm.build_model = FirstLayerWindowed  # train_lm builds its model through this name
    print(record(args, cfg, done, "hard_alibi", first_layer=args.first, later_layers=args.rest))


if __name__ == "__main__":
    try:
        main()
    except ConfigError as e:
        sys.exit(f"error: {e}")
