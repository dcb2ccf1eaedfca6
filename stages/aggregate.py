"""Stage aggregate: collect every model's evaluation, training summary and probes into metrics/results.json."""

import _cli

from posenc import io
from posenc.reporting.results import aggregate, headline, read_inputs


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__))
    results = aggregate(cfg, *read_inputs(cfg, layout))
    io.write_json(layout.results, results)
    io.write_json(layout.headline, headline(cfg, results))
    print(f"wrote {layout.results} and {layout.headline}")


if __name__ == "__main__":
    _cli.run(main)
