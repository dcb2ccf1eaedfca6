"""Stage aggregate: collect every model's evaluation, training summary and probes into metrics/results.json."""

import _cli

from posenc import io
from posenc.reporting.results import aggregate, read_inputs


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__))
    io.write_json(layout.results, aggregate(cfg, *read_inputs(cfg, layout)))
    print(f"wrote {layout.results}")


if __name__ == "__main__":
    _cli.run(main)
