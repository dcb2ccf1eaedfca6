"""Stage plot: every figure in figures/, drawn from saved metrics, probes and training logs."""

import _cli

from posenc import io
from posenc.artifacts import IMDB
from posenc.errors import DataError
from posenc.reporting.plots import all_figures, plt, read_live, tidy_tables


def load_live(folder):
    try:
        return read_live(folder)
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{folder}: no readable DVCLive train/loss log ({type(e).__name__})") from None


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__))
    s, pes = cfg.synthetic, list(cfg.pes)
    results = io.read_json(layout.results)
    first = cfg.seeds[0]  # probes and attention maps: the first seed's models
    probes = {(t, pe): io.read_json(layout.probe_json(t, pe, first)) for t in (*s.tasks, IMDB) for pe in pes}
    maps = ({pe: io.load_npz(layout.attention_maps(s.headline_task, pe, first), "attention maps",
                             "run the probe stage") for pe in pes} if s.headline_task == "copy" else {})
    live = {t: {pe: [load_live(layout.live_dir(t, pe, sd)) for sd in cfg.seeds] for pe in pes}
            for t in (*s.tasks, IMDB)}
    figs = all_figures(results, probes, maps, live, pes, list(s.tasks), s.headline_task, s.train_max_len,
                       cfg.imdb.train_max_len, list(cfg.probe.lengths), list(cfg.probe.map_lengths))
    for name, fig in figs.items():
        with io.atomic_path(layout.figures / name, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
        plt.close(fig)
    for name, table in tidy_tables(results, live, pes).items():  # for dvc.yaml's top-level plots
        io.write_text(layout.figures / "data" / name, table.to_csv(sep="\t", index=False, float_format="%.6g"))
    print(f"wrote {len(figs)} figures to {layout.figures}: {', '.join(figs)}")


if __name__ == "__main__":
    _cli.run(main)
