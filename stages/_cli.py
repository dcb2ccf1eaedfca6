"""Shared plumbing for the stage scripts: one-line errors, exit code 2."""

from __future__ import annotations

import sys

from posenc.errors import PosencError


def run(main) -> None:
    """Call main(); a user error prints `error: <message>` on one line and exits 2."""
    try:
        main()
    except PosencError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
