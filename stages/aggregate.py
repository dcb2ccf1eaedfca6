"""Stage aggregate: collect every model's evaluation and probes into metrics/results.json."""

import argparse
from pathlib import Path

import _cli

from posenc import config, io
from posenc.results import aggregate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--evals", required=True, help="folder of <task>_<pe>.json from evaluate")
    ap.add_argument("--logs", required=True, help="folder of <task>_<pe>.json from train")
    ap.add_argument("--imdb-data", required=True, help="length summary from prepare_imdb")
    ap.add_argument("--probes", required=True, help="folder of <task>_<pe>.json and imdb_<pe>.json from the probes")
    ap.add_argument("--out", required=True, help="results file to write")
    args = ap.parse_args()
    cfg = config.load(args.params)
    evals, trains = {}, {}
    for task in cfg.synthetic.tasks:
        for pe in cfg.pes:
            evals[(task, pe)] = io.read_json(Path(args.evals) / f"{task}_{pe}.json")["lengths"]
            trains[(task, pe)] = io.read_json(Path(args.logs) / f"{task}_{pe}.json")["summary"]
    imdb_evals = {pe: io.read_json(Path(args.evals) / f"imdb_{pe}.json")["lengths"] for pe in cfg.pes}
    imdb_trains = {pe: io.read_json(Path(args.logs) / f"imdb_{pe}.json")["summary"] for pe in cfg.pes}
    imdb_data = io.read_json(args.imdb_data)
    probes = {(task, pe): io.read_json(Path(args.probes) / f"{task}_{pe}.json")
              for task in (*cfg.synthetic.tasks, "imdb") for pe in cfg.pes}
    io.write_json(args.out, aggregate(cfg, evals, trains, imdb_evals, imdb_trains, imdb_data, probes))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    _cli.run(main)
