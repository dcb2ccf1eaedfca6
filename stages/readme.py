"""Rewrite the results table in README.md from metrics/results.json (run by `make repro`)."""

import argparse
from pathlib import Path

import _cli

from posenc import io
from posenc.errors import DataError
from posenc.reporting.tables import sync_readme


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--results", default="metrics/results.json")
    ap.add_argument("--readme", default="README.md")
    args = ap.parse_args()
    results = io.read_json(args.results)
    try:
        text = sync_readme(Path(args.readme).read_text(), results)
    except (OSError, ValueError) as e:
        raise DataError(f"{args.readme}: {e}") from None
    with io.atomic_path(args.readme) as tmp:
        tmp.write_text(text)
    print(f"updated the results table in {args.readme}")


if __name__ == "__main__":
    _cli.run(main)
