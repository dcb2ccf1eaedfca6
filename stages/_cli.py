"""Shared plumbing for the stage scripts: one-line errors, exit code 2."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

from posenc import config
from posenc.artifacts import Layout
from posenc.errors import PosencError


def parser(doc: str, task: bool = False, pe: bool = False, seed: bool = False) -> argparse.ArgumentParser:
    """--params and --root (where the artifacts live, see posenc/artifacts.py), plus --task / --pe / --seed if asked."""
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--root", default=".", help="folder holding data/, models/, metrics/ (default: here)")
    if task:
        ap.add_argument("--task", required=True)
    if pe:
        ap.add_argument("--pe", required=True)
    if seed:
        ap.add_argument("--seed", required=True, type=int, help="a training seed listed in `seeds`")
    return ap


def setup(ap: argparse.ArgumentParser):
    """Parse the arguments, load params.yaml, check --task/--pe/--seed against it -> (args, cfg, layout)."""
    args = ap.parse_args()
    cfg = config.load(args.params)
    if getattr(args, "pe", None) is not None:
        config.check_choice(args.pe, cfg.pes, "pes")
    if getattr(args, "seed", None) is not None and args.seed not in cfg.seeds:
        raise_seed(args.seed, cfg.seeds)
    task = getattr(args, "task", None)
    if task is not None and task != "imdb":
        config.check_choice(task, cfg.synthetic.tasks, "synthetic.tasks")
    return args, cfg, Layout(Path(args.root))


def raise_seed(seed: int, seeds) -> None:
    from posenc.errors import ConfigError

    raise ConfigError(f"seeds: {seed} is not listed (have {', '.join(map(str, seeds))})")


def run(main) -> None:
    """Call main(); a user error prints `error: <message>` on one line and exits 2."""
    try:
        main()
    except PosencError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


@contextmanager
def live_log(folder: str):
    """A training stage's live log with DVCLive: yields log(step, {name: value}).

    dvcyaml=None: DVCLive never rewrites dvc.yaml (the stage declares the
    folder as plots); save_dvc_exp=False: it never creates experiments itself.
    """
    from dvclive import Live

    with Live(folder, dvcyaml=None, save_dvc_exp=False, report=None) as live:

        def log(step: int, metrics: dict[str, float]) -> None:
            live.step = step
            for name, value in metrics.items():
                live.log_metric(name, value)

        yield log
