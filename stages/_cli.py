"""Shared plumbing for the stage scripts: one-line errors, exit code 2."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from posenc.errors import PosencError


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
