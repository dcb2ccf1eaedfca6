"""Stage plot: every figure in figures/, drawn from saved metrics, probes and training logs."""

import argparse
import zipfile
from pathlib import Path

import _cli
import numpy as np

from posenc import config, io
from posenc.errors import DataError
from posenc.plots import all_figures, plt, read_live


def load_maps(path: Path) -> dict:
    if not path.is_file():
        raise DataError(f"{path}: attention maps not found (run the probe stage)")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: corrupt attention maps ({type(e).__name__})") from None


def load_live(folder: Path):
    try:
        return read_live(folder)
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{folder}: no readable DVCLive train/loss log ({type(e).__name__})") from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--results", required=True, help="metrics/results.json from aggregate")
    ap.add_argument("--probes", required=True, help="folder of probe metrics (.json)")
    ap.add_argument("--maps", required=True, help="folder of attention maps (.npz) from probe")
    ap.add_argument("--live", required=True, help="folder of DVCLive training logs")
    ap.add_argument("--out", required=True, help="folder to write the PNGs into")
    args = ap.parse_args()
    cfg = config.load(args.params)
    s, pes = cfg.synthetic, list(cfg.pes)
    results = io.read_json(args.results)
    probes = {(task, pe): io.read_json(Path(args.probes) / f"{task}_{pe}.json")
              for task in (*s.tasks, "imdb") for pe in pes}
    maps = {pe: load_maps(Path(args.maps) / f"{s.headline_task}_{pe}.npz") for pe in pes} \
        if s.headline_task == "copy" else {}
    live = {task: {pe: load_live(Path(args.live) / f"{task}_{pe}") for pe in pes} for task in (*s.tasks, "imdb")}
    figs = all_figures(results, probes, maps, live, pes, list(s.tasks), s.headline_task, s.train_max_len,
                       cfg.imdb.train_max_len, list(cfg.probe.lengths), list(cfg.probe.map_lengths))
    for name, fig in figs.items():
        with io.atomic_path(Path(args.out) / name, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
        plt.close(fig)
    print(f"wrote {len(figs)} figures to {args.out}: {', '.join(figs)}")


if __name__ == "__main__":
    _cli.run(main)
