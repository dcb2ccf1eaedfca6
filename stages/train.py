"""Stage train: train one causal LM (one PE, one synthetic task) with the shared recipe."""

import _cli

from posenc.data import synthetic
from posenc.engine import runtime
from posenc.engine.lm import train_lm
from posenc.nn.checkpoint import save_trained


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__, task=True, pe=True))
    task, pe = args.task, args.pe
    splits = synthetic.load(layout.synthetic_data(task), task, cfg.synthetic.vocab_size)
    rt = runtime.load(layout.runtime, cfg.runtime.dtype)
    with _cli.live_log(layout.live_dir(task, pe)) as log:
        out = train_lm(cfg, pe, task, splits, on_log=log, rt=rt)
    save_trained(layout, task, pe, out, "checks")
    s, t = out["summary"], out["timing"]
    print(f"{task}/{pe}: {s['steps']} steps, {s['stop_reason']}, {t['wall_s']:.0f} s, {t['tokens_per_s']:.0f} tokens/s")


if __name__ == "__main__":
    _cli.run(main)
