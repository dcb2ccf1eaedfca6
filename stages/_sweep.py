"""What the learning-rate sweep's two stages (train_lr, evaluate_lr) share: the `--lr` argument, its check
against `lr_sweep`, and the one model it names (headline task, first seed, artifacts.sweep_name)."""

import _cli

from posenc.artifacts import sweep_name
from posenc.errors import ConfigError


def setup(doc: str):
    """Parse `--pe` and `--lr`, load the config; -> (args, cfg, layout, (task, name, seed)). A rate not listed
    in `lr_sweep` is a one-line ConfigError naming the key."""
    ap = _cli.parser(doc, pe=True)
    ap.add_argument("--lr", required=True, type=float, help="a learning rate listed in `lr_sweep`")
    args, cfg, layout = _cli.setup(ap)
    if args.lr not in cfg.lr_sweep:
        raise ConfigError(f"lr_sweep: {args.lr:g} is not listed (got {list(cfg.lr_sweep)})")
    return args, cfg, layout, (cfg.synthetic.headline_task, sweep_name(args.pe, args.lr), cfg.seeds[0])
