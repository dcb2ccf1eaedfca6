"""Stage report: REPORT.md, every table and every sentence about results generated from the artifacts."""

import argparse
from pathlib import Path

import _cli

from posenc import config, io
from posenc.report import Inputs, build_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--results", required=True, help="metrics/results.json")
    ap.add_argument("--profile", required=True, help="metrics/profile.json")
    ap.add_argument("--logs", required=True, help="folder of training summaries (.json)")
    ap.add_argument("--probes", required=True, help="folder of probe metrics (.json)")
    ap.add_argument("--figures", required=True, help="folder of figures, linked relative to the report")
    ap.add_argument("--out", required=True, help="report to write (.md)")
    args = ap.parse_args()
    cfg = config.load(args.params)
    names = [f"{task}_{pe}" for task in (*cfg.synthetic.tasks, "imdb") for pe in cfg.pes]
    inp = Inputs(cfg=cfg, results=io.read_json(args.results), profile=io.read_json(args.profile),
                 trains={n: io.read_json(Path(args.logs) / f"{n}.json") for n in names},
                 probes={n: io.read_json(Path(args.probes) / f"{n}.json") for n in names},
                 figures=tuple(sorted(p.name for p in Path(args.figures).glob("*.png"))))
    text = build_report(inp)
    with io.atomic_path(args.out) as tmp:
        tmp.write_text(text)
    print(f"wrote {args.out} ({len(text.splitlines())} lines)")


if __name__ == "__main__":
    _cli.run(main)
