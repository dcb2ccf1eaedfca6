"""Stage plot: every figure in figures/ but the attention maps (stage plot_maps), drawn from files git holds:
results.json, the probes' JSON and the training logs."""

import _cli

from posenc import io
from posenc.artifacts import IMDB
from posenc.errors import DataError
from posenc.reporting.plots import all_figures, read_live, save_figure, tidy_tables


def load_live(folder):
    try:
        return read_live(folder)
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{folder}: no readable DVCLive train/loss log ({type(e).__name__})") from None


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__))
    s, pes = cfg.synthetic, list(cfg.pes)
    results = io.read_json(layout.results)
    first = cfg.seeds[0]  # probes: the first seed's models
    probes = {(t, pe): io.read_json(layout.probe_json(t, pe, first)) for t in (*s.tasks, IMDB) for pe in pes}
    live = {t: {pe: [load_live(layout.live_dir(t, pe, sd)) for sd in cfg.seeds] for pe in pes}
            for t in (*s.tasks, IMDB)}
    figs = all_figures(results, probes, live, pes, list(s.tasks), s.headline_task, s.train_max_len,
                       cfg.imdb.train_max_len, list(cfg.probe.lengths))
    for name, fig in figs.items():
        save_figure(fig, layout.figures / name)
    for name, table in tidy_tables(results, live, pes).items():  # for dvc.yaml's top-level plots
        io.write_text(layout.figures / "data" / name, table.to_csv(sep="\t", index=False, float_format="%.6g"))
    print(f"wrote {len(figs)} figures to {layout.figures}: {', '.join(figs)}")


if __name__ == "__main__":
    _cli.run(main)
