"""Stage train: train one causal LM (one PE, one synthetic task) with the shared recipe."""

from pathlib import Path

import _cli

import posenc
from posenc import config
from posenc.data import synthetic
from posenc.engine import runtime
from posenc.engine.resume import Snapshots, resume_key
from posenc.engine.lm import train_lm
from posenc.nn.checkpoint import save_trained
from posenc.nn.pe import check_sections
from posenc.nn.pe.base import Dims


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__, task=True, pe=True, seed=True))
    task, pe, seed = args.task, args.pe, args.seed
    m = cfg.model  # a bad pe.<name> fails before any data is read
    check_sections({pe: cfg.pe.get(pe)}, Dims(m.d_model, m.n_heads, m.max_positions, cfg.synthetic.train_max_len))
    splits = synthetic.load(layout.synthetic_data(task), task, cfg.synthetic.vocab_size)
    rt = runtime.load(layout.runtime, cfg.runtime.dtype)
    key = resume_key({"config": config.to_dict(cfg), "model": [task, pe, seed]},
                     [layout.synthetic_data(task), layout.runtime], Path(posenc.__file__).parent)
    snapshots = Snapshots(layout.resume(task, pe, seed, key), cfg.train.resume_every)
    with _cli.live_log(layout.live_dir(task, pe, seed)) as log:  # a resumed run re-sends the rows it has
        out = train_lm(cfg, pe, task, splits, seed, on_log=log, rt=rt, snapshots=snapshots)
    save_trained(layout, task, pe, out, "checks", "tracking")
    s, t = out["summary"], out["timing"]
    print(f"{task}/{pe}/s{seed}: {s['steps']} steps, {s['stop_reason']}, val exact {s['final_val_exact']}, {t['wall_s']:.0f} s, {t['tokens_per_s']:.0f} tokens/s")


if __name__ == "__main__":
    _cli.run(main)
