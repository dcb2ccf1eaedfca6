"""Stage report: REPORT.md, every table and every sentence about results generated from the artifacts."""

import _cli

from posenc import io
from posenc.artifacts import models
from posenc.reporting.report import Inputs, build_report, reference_length
from posenc.reporting import paired, study_pick
from posenc.reporting.results import read_inputs
from posenc.reporting.study_parts import section


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__))
    each = models(cfg.synthetic.tasks, cfg.pes, cfg.seeds[:1])  # training logs and probes of the first seed
    profile = io.read_json(layout.profile) if layout.profile.is_file() else None  # from `make bench`, if run
    study_prof = layout.root / "study/profile.json"  # every PE of study/params.yaml, if measured (bench/cost.py)
    study_profile = io.read_json(study_prof) if study_prof.is_file() else None
    i = cfg.imdb  # the IMDb sentences' paired tests read every classifier's per-review verdicts
    tests = paired.imdb_tests(read_inputs(cfg, layout)[2], list(cfg.seeds),
                              reference_length(i.eval_lengths, i.train_max_len), max(i.eval_lengths))
    results = io.read_json(layout.results)
    inp = Inputs(cfg=cfg, results=results, profile=profile,
                 trains={f"{t}_{pe}": io.read_json(layout.train_log(t, pe, sd)) for t, pe, sd in each},
                 probes={f"{t}_{pe}": io.read_json(layout.probe_json(t, pe, sd)) for t, pe, sd in each},
                 figures=tuple(sorted(p.name for p in layout.figures.glob("*.png"))),
                 study_parts=section(layout.root / "study", layout.results.parent),
                 study_pick=study_pick.section(layout.root / "study", layout.results.parent, study_profile, profile),
                 study_profile=study_profile, imdb_tests=tests,
                 imdb_leans=paired.leans_of(results, max(i.eval_lengths)))
    text = build_report(inp)
    io.write_text(layout.report, text)
    print(f"wrote {layout.report} ({len(text.splitlines())} lines)")


if __name__ == "__main__":
    _cli.run(main)
