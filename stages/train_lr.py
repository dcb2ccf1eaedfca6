"""Stage train_lr: the learning-rate sweep (issue 15): one PE trained on the headline task with the shared
recipe except train.lr, at the first seed; saved under the name artifacts.sweep_name(pe, lr)."""

import dataclasses
from pathlib import Path

import _cli
import _sweep

import posenc
from posenc import config
from posenc.data import synthetic
from posenc.engine import runtime
from posenc.engine.lm import train_lm
from posenc.engine.resume import Snapshots, resume_key
from posenc.nn.checkpoint import save_trained


def main() -> None:
    args, cfg, layout, (task, name, seed) = _sweep.setup(__doc__)
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, lr=args.lr))
    splits = synthetic.load(layout.synthetic_data(task), task, cfg.synthetic.vocab_size)
    rt = runtime.load(layout.runtime, cfg.runtime.dtype)
    key = resume_key({"config": config.to_dict(cfg), "model": [task, name, seed]},
                     [layout.synthetic_data(task), layout.runtime], Path(posenc.__file__).parent)
    snapshots = Snapshots(layout.resume(task, name, seed, key), cfg.train.resume_every)
    with _cli.live_log(layout.live_dir(task, name, seed)) as log:
        out = train_lm(cfg, args.pe, task, splits, seed, on_log=log, rt=rt, snapshots=snapshots)
    save_trained(layout, task, name, out, "checks", "tracking")
    print(f"{task}/{name}/s{seed}: val exact {out['summary']['final_val_exact']}, {out['timing']['wall_s']:.0f} s")


if __name__ == "__main__":
    _cli.run(main)
