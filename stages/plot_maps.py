"""Stage plot_maps: figures/attention_maps.png, the copy heads' attention on one example per length, drawn from
the probe stages' arrays (data/probes: DVC-cached, not in git). A stage of its own, so that every other figure
(stage plot) needs only files git holds."""

import _cli

from posenc import io
from posenc.reporting.plots import MAPS, maps_figure, save_figure


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__))
    s, pes, first = cfg.synthetic, list(cfg.pes), cfg.seeds[0]  # the first seed's models, as in stage plot
    copy = s.headline_task == "copy"
    probes = {pe: io.read_json(layout.probe_json(s.headline_task, pe, first)) for pe in pes} if copy else {}
    maps = ({pe: io.load_npz(layout.attention_maps(s.headline_task, pe, first), "attention maps",
                             "run the probe stage") for pe in pes} if copy else {})
    save_figure(maps_figure(maps, probes, pes, s.headline_task, list(cfg.probe.map_lengths), s.train_max_len),
                layout.figures / MAPS)
    print(f"wrote {layout.figures / MAPS}")


if __name__ == "__main__":
    _cli.run(main)
