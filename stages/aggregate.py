"""Stage aggregate: collect every model's evaluation, training summary and probes into metrics/results.json."""

import _cli

from posenc import io
from posenc.artifacts import model_name, models, stale, sweep_name
from posenc.reporting.results import aggregate, headline, read_inputs
from posenc.reporting.sweep import sweep_results


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__))
    results = aggregate(cfg, *read_inputs(cfg, layout))
    if cfg.lr_sweep:  # the study's learning-rate sweep (stages train_lr, evaluate_lr)
        results["lr_sweep"] = sweep_results(cfg, layout)
    io.write_json(layout.results, results)
    io.write_json(layout.headline, headline(cfg, results))
    print(f"wrote {layout.results} and {layout.headline}")
    sweep = [model_name(cfg.synthetic.headline_task, sweep_name(pe, lr), cfg.seeds[0])
             for pe in cfg.pes for lr in cfg.lr_sweep]
    old = stale(layout, [model_name(*m) for m in models(cfg.synthetic.tasks, cfg.pes, cfg.seeds)] + sweep)
    if old:  # one line: results.json ignores them, but they are still in the workspace (and maybe in git)
        print(f"warning: {len(old)} per-model files of models no longer in pes/seeds/tasks, e.g. {old[0]}; "
              "delete them (git rm) if they are not wanted")


if __name__ == "__main__":
    _cli.run(main)
