"""The summary of a study that has not finished (reporting/partial.py): numbers from the files, gaps named."""

import json

import numpy as np
import pytest
import yaml

from conftest import tiny_params
from posenc.reporting import partial, stats


def _write(folder, params, values):
    """values: {(task, pe, seed): exact match at every length} -> metrics/eval and metrics/train files."""
    (folder / "metrics/eval").mkdir(parents=True)
    (folder / "metrics/train").mkdir(parents=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    s = params["synthetic"]
    lengths = [*s["eval_lengths"], *s["curve_lengths"], *s["far_lengths"]]
    for (task, pe, seed), v in values.items():
        m = {str(L): {"token_acc": min(1.0, v + 0.5), "exact_match": v, "loss": 1.0, "targets": 10,
                      "per_seq": {"right": [10, 10, 9, 10]}} for L in lengths}  # 0.25 wrong per sequence
        variants = {"yarn": {str(L): {"token_acc": 1.0, "exact_match": 1.0} for L in lengths}} if pe == "rope" else {}
        (folder / f"metrics/eval/{task}_{pe}_s{seed}.json").write_text(json.dumps(
            {"task": task, "pe": pe, "seed": seed, "lengths": m, "variants": variants}))
        (folder / f"metrics/train/{task}_{pe}_s{seed}.json").write_text(json.dumps(
            {"summary": {"seed": seed, "first_step_exact": None}}))


def test_the_summary_reports_the_files_and_names_what_is_missing(tmp_path):
    params = tiny_params()
    params.update(seeds=[0, 1, 2], pes=["learned", "rope", "alibi"])
    params["synthetic"].update(tasks=["copy", "duplicate"], far_lengths=[64])  # 4x the training length
    params["model"]["max_positions"] = 64
    values = {("copy", pe, s): 0.1 * (s + 1) * (i + 1) / 3 for i, pe in enumerate(params["pes"]) for s in range(3)}
    values.pop(("copy", "alibi", 2))
    _write(tmp_path, params, values)
    text = partial.summary(tmp_path, tmp_path / "no-default")
    rope = [values[("copy", "rope", s)] for s in range(3)]
    lo, hi = stats.t_interval(rope, stats.SHARE)
    assert lo == 0 < stats.t_interval(rope)[1] == hi  # a share's interval is clipped to [0, 1], not [-3.2 %, ...]
    assert f"| rope | 3 | {100 * np.mean(rope):.1f} [{100 * lo:.1f}, {100 * hi:.1f}] |" in text
    assert "| rope_yarn | 3 | 100.0" in text  # an evaluation variant is a row of its own
    assert "copy/alibi/s2" in text and "duplicate/learned/s0" in text  # the gaps, never filled in
    assert f"Trained and evaluated: {len(values)} of 18" in text
    assert "Claims among the 3 PEs and variants with all 3 seeds" in text  # alibi (2 seeds) is not compared
    T = params["synthetic"]["train_max_len"]
    assert f"copy at {4 * T} (4x): rope_yarn reaches 95% exact match over 3 seeds" in text  # only it has >= 0.95
    assert f"copy, solved at {T} (mean exact match >= 90%): no PE" in text


def test_the_default_is_set_beside_the_seeds_and_counted_inside_or_out(tmp_path):
    params = tiny_params()
    params.update(seeds=[0, 1, 2], pes=["rope", "alibi"])
    part, default = tmp_path / "part", tmp_path / "metrics"
    part.mkdir()
    _write(part, params, {(t, pe, s): 0.3 + 0.1 * s for t in params["synthetic"]["tasks"] for pe in params["pes"]
                          for s in range(3)})
    _write(tmp_path / "d", params, {(t, "rope", 0): 0.4 for t in params["synthetic"]["tasks"]}
           | {(t, "alibi", 0): 0.9 for t in params["synthetic"]["tasks"]})  # rope inside [0.3, 0.5]; alibi out in exact match only
    (tmp_path / "d/metrics").rename(default)
    (default / "runtime.json").write_text(json.dumps({"device_type": "cpu", "dtype": "float32"}))
    text = partial.summary(part, default)
    assert "The default's seed-0 models (cpu, float32, `metrics/eval/`) beside this part's: 3 of 4 numbers" in text
    assert "| alibi | 90.0 | 30.0 |" in text
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**params, "pes": ["rope"]}))  # the default's own PE list
    text = partial.summary(part, default)
    assert "beside this part's: 2 of 2 numbers" in text and "| alibi | 90.0" not in text
    # a part of another recipe (three times the steps) holds other models: not set beside the default's
    longer = {**params, "pes": ["rope"], "train": {**params["train"], "max_steps": 3 * params["train"]["max_steps"]}}
    (part / "params.yaml").write_text(yaml.safe_dump(longer))
    text = partial.summary(part, default)
    assert (f"The default's seed-0 models are not set beside this part's: they trained with another recipe "
            f"(train.max_steps {3 * params['train']['max_steps']} here, {params['train']['max_steps']} in the "
            "default), so they are other models.") in text
    assert "numbers fall inside" not in text and "| rope | 40.0" not in text


def test_the_blank_format_is_set_beside_the_teacher_forced_one(tmp_path):
    params = tiny_params()
    params.update(seeds=[0, 1, 2], pes=["learned", "rope"])
    params["synthetic"]["tasks"] = ["copy", "copy_blank"]
    part, default = tmp_path / "part", tmp_path / "metrics"
    part.mkdir()
    _write(part, params, {("copy_blank", "rope", 0): 0.2, ("copy_blank", "learned", 0): 0.1})  # seed 0 only
    _write(tmp_path / "d", params, {("copy", "rope", 0): 0.7})  # the default has no learned model
    (tmp_path / "d/metrics").rename(default)
    (tmp_path / "d/params.yaml").rename(tmp_path / "params.yaml")  # beside the default's metrics, as in a checkout
    text = partial.summary(part, default)
    L = params["synthetic"]["eval_lengths"][0]
    assert "## copy and copy_blank: the two formats" in text
    assert f"exact @{L}: copy / copy_blank" in text
    assert "| rope | default (device not recorded), seed 0 | 70.0 / 20.0 | 100.0 / 70.0 |" in text  # token acc: v + 0.5 <= 1
    assert "| learned | default" not in text  # nothing to set beside it: no row, never a made-up one
    assert "0 PE or variant has all 3 seeds, so nothing is compared" in text and "within noise" not in text
    # a default of another recipe trained other models: another part of this one's recipe stands in
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**params, "train": {**params["train"], "long_share": 0.25}}))
    _write(tmp_path / "other", params, {("copy", "rope", 0): 0.6})
    text = partial.summary(part, default)
    assert "| rope | default" not in text and "/other (device not recorded), seed 0 | 60.0 / 20.0 |" in text


def test_a_start_token_is_compared_with_its_plain_task_over_seeds_against_its_own_baseline(tmp_path):
    """copy_start beside copy from the same part, the paired formats test over seeds, and the 3-token rule of a
    task the default lacks read from the part's own baselines."""
    params = tiny_params()
    params.update(seeds=[0, 1, 2], pes=["alibi"])
    params["synthetic"].update(tasks=["copy", "copy_start"], far_lengths=[64])
    params["model"]["max_positions"] = 64
    part = tmp_path / "part"
    part.mkdir()
    _write(part, params, {("copy", "alibi", s): 0.5 + 0.01 * s for s in range(3)}
           | {("copy_start", "alibi", s): 0.97 + 0.01 * s for s in range(3)})
    T = params["synthetic"]["train_max_len"]
    (part / "metrics/baselines").mkdir()
    (part / "metrics/baselines/copy_start.json").write_text(json.dumps(
        {"rules": {"lookup3": {str(4 * T): {"exact_match": 0.25, "token_acc": 0.9}}}}))
    text = partial.summary(part, tmp_path / "no-default")
    assert "## copy and copy_start: the two formats" in text and "| alibi | this part | 51.0 [48.5, 53.5] / 98.0" in text
    assert f"copy vs copy_start, exact match at {4 * T}: alibi: copy_start > copy (by 47.0 points" in text
    assert f"copy_start at {4 * T} (4x): alibi reaches 95% exact match over 3 seeds" in text
    assert "against 25.0 % for copying by the last 3 tokens" in text  # the part's own rule, not the default's
    assert partial.lookup3(tmp_path / "no-default", "copy_start") == {}


def test_collect_copies_only_the_models_a_workspace_finished(tmp_path):
    ws, part = tmp_path / "ws", tmp_path / "part"
    with pytest.raises(FileNotFoundError, match="not a study workspace"):
        partial.collect(ws, part)
    for sub in ("metrics/eval", "metrics/train"):
        (ws / sub).mkdir(parents=True)
    (ws / "dvc.yaml").write_text("stages: {}\n")
    (ws / "params.yaml").write_text("seed: 0\n")
    (ws / "metrics/runtime.json").write_text("{}")
    for name in ("copy_rope_s0.json", "copy_learned_s0.json"):
        (ws / "metrics/eval" / name).write_text("{}")
    (ws / "metrics/train/copy_rope_s0.json").write_text("{}")  # learned: evaluated files left, no training summary
    indented = json.dumps({"b": {"exact": [0, 1, 1]}, "a": float("nan")}, indent=2)
    (ws / "metrics/eval/copy_rope_s0.json").write_text(indented)
    assert partial.collect(ws, part) == 1
    copied = (part / "metrics/eval/copy_rope_s0.json").read_text()
    assert copied == '{"a":NaN,"b":{"exact":[0,1,1]}}\n'  # compact, keys sorted, same content
    assert sorted(p.name for p in (part / "metrics/eval").iterdir()) == ["copy_rope_s0.json"]
    assert (part / "params.yaml").read_text() == "seed: 0\n" and (part / "metrics/runtime.json").exists()
    for sub in ("eval", "train"):
        (ws / "metrics" / sub / "imdb_rope_s0.json").write_text("{}")
    assert not (part / "metrics/baselines").exists()  # the workspace has no content baselines: none copied
    (ws / "metrics/baselines").mkdir()
    for task in ("copy", "duplicate"):
        (ws / f"metrics/baselines/{task}.json").write_text('{"rules": {}}')
    (ws / "metrics/eval/copy_rope_s0.json").write_text('{"task": "copy"}')
    assert partial.collect(ws, part) == 2  # with imdb_rope_s0; and the baselines of its models' tasks, only those
    assert [p.name for p in (part / "metrics/baselines").iterdir()] == ["copy.json"]
    assert partial.collect(ws, tmp_path / "imdb_part", only="imdb") == 1  # the synthetic model left out
    assert [p.name for p in (tmp_path / "imdb_part/metrics/eval").iterdir()] == ["imdb_rope_s0.json"]


def test_the_best_is_named_only_when_one_is_above_zero():
    assert partial._best({"rope": 0.2, "alibi": 0.5}) == "best alibi at 50.0 %"
    assert partial._best({"rope": 0.0, "alibi": 0.0}) == "every one of 2 at 0.0 %"  # no first place among zeros
    assert partial._best({"rope": 0.0}) == "the only one, rope, at 0.0 %"  # one model: no "every one of 1"


def _write_imdb(folder, params, acc, verdicts=None):
    """acc: {(pe, seed): (accuracy at the training length, at every longer length)} -> IMDb evaluation files;
    verdicts: {(pe, seed): (labels, predictions at the training length, at every longer length)}, if any."""
    (folder / "metrics/eval").mkdir(parents=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    T = params["imdb"]["train_max_len"]
    for (pe, seed), (short, long) in acc.items():
        lengths = {str(L): {"acc": short if L == T else long, "n": 40} for L in params["imdb"]["eval_lengths"]}
        if (pe, seed) in (verdicts or {}):
            label, at_t, at_l = verdicts[(pe, seed)]
            for L, v in lengths.items():
                v["per_review"] = {"label": label, "pred": at_t if int(L) == T else at_l}
        variants = {"ntk": {L: {**v, "acc": v["acc"] - 0.1} for L, v in lengths.items()}} if pe == "rope" else {}
        (folder / f"metrics/eval/imdb_{pe}_s{seed}.json").write_text(json.dumps(
            {"pe": pe, "seed": seed, "lengths": lengths, "variants": variants}))


def test_imdb_seeds_give_intervals_the_change_with_length_and_tested_claims(tmp_path):
    params = tiny_params()
    params.update(seeds=[0, 1, 2], pes=["learned", "rope", "alibi"])
    far = max(params["imdb"]["eval_lengths"])
    acc = {("rope", s): (0.80 + 0.001 * s, 0.80 + 0.001 * s) for s in range(3)}  # no change with length
    acc |= {("learned", s): (0.81 + 0.002 * s, 0.70 + 0.003 * s) for s in range(3)}  # drops by 11 points
    acc |= {("alibi", 0): (0.9, 0.9)}  # one seed: in the table, in no claim
    _write_imdb(tmp_path, params, acc)
    text = partial.summary(tmp_path, tmp_path / "no-default")
    assert "no synthetic models; 7 of 9 IMDb classifiers" in text and "## IMDb (40 test reviews" in text
    drop = [acc[("learned", s)][1] - acc[("learned", s)][0] for s in range(3)]
    lo, hi = stats.t_interval(drop)
    assert f"| {100 * np.mean(drop):.1f} [{100 * lo:.1f}, {100 * hi:.1f}] | - |" in text
    assert ("beyond noise (paired t-test over seeds, Holm over the 3 rows with two seeds or more, alpha 0.05): "
            f"learned ({100 * np.mean(drop):+.1f}).") in text  # rope: 0 at every seed; alibi: one seed, no test
    assert f"Claims among the 3 PEs and variants with all 3 seeds: imdb, accuracy at {far}: rope > learned" in text
    assert "| alibi | 1 | 90.0 |" in text and "| rope_ntk | 3 | 70.1 [" in text  # a variant: a row of its own
    default = tmp_path / "default"
    _write_imdb(default, params, {("rope", 0): (0.5, 0.6)})  # its variant ntk: 0.1 lower
    text = partial.summary(tmp_path, default / "metrics")
    assert [r.split(" | ")[-1] for r in text.splitlines() if r.startswith(("| rope |", "| rope_ntk |"))] == \
        ["60.0 |", "50.0 |"]  # the default's seed-0 numbers, a variant's from its PE's file


def test_the_report_section_gives_each_part_its_device_bars_and_claims(tmp_path):
    from posenc.reporting import study_parts
    params = tiny_params()
    params.update(seeds=[0, 1, 2], pes=["learned", "rope"])
    params["synthetic"].update(tasks=["copy"], far_lengths=[64])  # 4x the training length
    params["model"]["max_positions"] = 64
    T = params["synthetic"]["train_max_len"]
    values = {("copy", "rope", s): 0.95 + 0.01 * s for s in range(3)}
    values |= {("copy", "learned", s): 0.1 * s for s in range(3)}
    _write(tmp_path / "study/big", params, values)
    (tmp_path / "study/big/runs.json").write_text(json.dumps({"device": "a lent GPU"}))
    one = dict(params, seeds=[0])
    _write(tmp_path / "study/small", one, {("copy", "rope", 0): 0.5})
    (tmp_path / "study/notes").mkdir()  # no params: not a part
    assert study_parts.section(tmp_path / "nothing", tmp_path) == ""
    text = study_parts.section(tmp_path / "study", tmp_path / "no-default")
    assert text.index("### study/big (a lent GPU)") < text.index("### study/small (device not recorded)")
    assert "notes" not in text
    assert f"- copy, solved at {T} (mean exact match >= 90%): rope; best rope at 96.0 %." in text
    assert f"- copy, exact match at {4 * T}: rope > learned" in text  # 3 seeds, separated
    assert f"- copy, slips at {4 * T}: lowest per-target error rate rope, 2.500 %, 4.9x the 0.513 % that 95 % " \
        "exact match over 10 targets allows" in text  # learned: below 90 % per token, not a candidate
    assert "- copy: fewer than 2 PEs with 3 seeds or more, so nothing is compared." in text  # the 1-seed part
    _write_imdb(tmp_path / "study/imdb", params, {(pe, s): (0.8, 0.8 - (pe == "learned") * (0.1 + 0.01 * s))
                                                  for pe in ("rope", "learned") for s in range(3)})
    text = study_parts.section(tmp_path / "study", tmp_path / "no-default")
    far = max(params["imdb"]["eval_lengths"])
    assert f"- IMDb, accuracy at {far} tokens (%, mean [95 % t] over seeds): learned 69.0 [" in text
    assert f"- imdb, accuracy at {far}: rope > learned" in text
    assert "the predictions that change" not in text  # no per-review verdicts recorded: no reading of them


def test_a_part_says_where_each_seeds_changed_predictions_go_against_the_positionless_classifier(tmp_path):
    from posenc.reporting import study_parts
    params = tiny_params()
    params.update(seeds=[0, 1, 2], pes=["learned", "rope", "nope"])
    T, far = params["imdb"]["train_max_len"], max(params["imdb"]["eval_lengths"])
    label = "0" * 40
    ways = {"learned": ("1" * 30 + "0" * 10, "0" * 40),  # all 30 changes to negative, in every seed
            "nope": ("1" * 15 + "0" * 25, "0" * 15 + "1" * 15 + "0" * 10),  # 15 each way
            "rope": ("1" * 15 + "0" * 25, "0" * 15 + "1" * 15 + "0" * 10)}
    verdicts = {(pe, s): (label, *ways[pe]) for pe in ways for s in range(3)}
    _write_imdb(tmp_path / "study/imdb", params, {k: (0.8, 0.8) for k in verdicts}, verdicts)
    text = study_parts.section(tmp_path / "study", tmp_path / "no-default")
    assert (f"- IMDb, the predictions that change between {T} and {far} tokens: the share going to negative (%, "
            "per seed; *: not half and half beyond noise, sign test, Holm over 12 models): learned 100.0* / 100.0* / "
            "100.0*; nope 50.0 / 50.0 / 50.0; rope 50.0 / 50.0 / 50.0; rope_ntk 50.0 / 50.0 / 50.0.") in text
    assert "nope, which has no position signal, sends 50.0 % / 50.0 % / 50.0 % of its changed predictions" in text
    assert ("learned (100.0 % / 100.0 % / 100.0 %) differs from it in each of its 3 seeds beyond noise" in text
            and "rope, rope_ntk do not differ from it beyond noise." in text)  # rope's variant: a row of its own


def _write_sweep(folder, runs):
    """runs: {(pe, lr): (exact match, token accuracy) at every length} -> stage evaluate_lr's files."""
    for (pe, lr), (exact, acc) in runs.items():
        lengths = {str(L): {"token_acc": acc, "exact_match": exact, "loss": 1.0} for L in (8, 16, 32, 64)}
        for sub in ("eval", "train"):
            (folder / f"metrics/{sub}/copy_{pe}_lr{lr}_s0.json").write_text(json.dumps(
                {"pe": pe, "lr": lr, "task": "copy", "seed": 0, "lengths": lengths, "summary": {}}))


def test_a_sweep_part_takes_each_shared_rate_model_from_where_it_exists_and_names_the_source(tmp_path):
    from posenc.reporting import study_parts
    params = tiny_params()
    params.update(seeds=[0, 1, 2], pes=["learned", "rope", "alibi"], lr_sweep=[0.001, 0.004])
    params["synthetic"].update(tasks=["copy"], eval_lengths=[16, 32, 64], curve_lengths=[8], far_lengths=[])
    params["synthetic"].update(train_max_len=16, eval_size=256)  # the noise test counts 256 sequences
    params["model"]["max_positions"] = 64
    shared = params["train"]["lr"]
    part, default = tmp_path / "study/lr", tmp_path / "metrics"
    _write(part, params, {})
    _write_sweep(part, {("rope", 0.001): (0.3, 0.9), ("rope", 0.004): (0.95, 0.99),
                        ("learned", 0.001): (0.0, 0.4), ("learned", 0.004): (0.0, 0.3)})
    _write(tmp_path / "d", params, {("copy", "rope", 0): 0.5})  # rope's shared-rate model: the default's
    (tmp_path / "d/metrics").rename(default)
    (tmp_path / "d/params.yaml").rename(tmp_path / "params.yaml")  # beside the default's metrics, as in a checkout
    (default / "runtime.json").write_text(json.dumps({"device_type": "cpu", "dtype": "float32"}))
    _write(tmp_path / "study/gpu", params, {("copy", "learned", 0): 0.0})  # learned's: another part's (acc 0.5)
    other = {**params, "model": {**params["model"], "d_model": 2 * params["model"]["d_model"]}}
    _write(tmp_path / "study/aaa", other, {("copy", "learned", 0): 0.7})  # listed first, but another model: skipped
    (tmp_path / "study/gpu/runs.json").write_text(json.dumps({"device": "a lent GPU (16 cores)"}))
    text = partial.summary(part, default)
    assert "4 of the learning-rate sweep's 6 models" in text and "no synthetic models" in text
    assert f"| rope | **{shared:g}** | default (cpu, float32) | 50.0 % |" in text
    assert f"| learned | **{shared:g}** (best) | study/gpu (a lent GPU) | 0.0 % | 50.0 % |" in text  # ties: acc
    assert "| rope | 0.004 (best) | this part | 95.0 % | 99.0 % | 95.0 % |" in text
    assert "for rope at 0.004 (95.0 % against 50.0 %); not for learned." in text
    assert ("- Solved at 16 (exact match >= 90%) at another rate, beyond that noise, but not at the shared one: "
            "rope.") in text
    assert "| alibi |" not in text  # not in the sweep: no row
    report = study_parts.section(tmp_path / "study", default)
    assert "for rope at 0.004 (95.0 %" in report and "4 of the learning-rate sweep's 6 models" in report


def test_a_better_rate_counts_only_beyond_the_evaluation_samples_noise():
    from posenc.reporting.sweep import sample_p
    beyond_sample_noise = lambda a, b, n: sample_p(a, b, n) < 0.05  # noqa: E731
    assert not beyond_sample_noise(0.005, 0.0, 256)  # one sequence of 256 more: noise
    assert not beyond_sample_noise(0.934, 0.906, 256)
    assert beyond_sample_noise(0.621, 0.059, 256) and beyond_sample_noise(0.02, 0.0, 256)
    assert not beyond_sample_noise(0.0, 0.0, 256) and beyond_sample_noise(1.0, 0.0, 256)


def test_a_part_made_with_other_params_than_the_study_now_says_which_keys_and_only_those_its_models_used(tiny_params_dict):
    from posenc import config
    from posenc.reporting.study_parts import recipe_drift
    study = config.from_dict(tiny_params_dict)
    assert recipe_drift(study, study, ("model", "train", "imdb")) == ""
    tiny_params_dict["train"]["long_share"] = 0.0 if study.train.long_share else 0.5
    part = config.from_dict(tiny_params_dict)
    line = recipe_drift(part, study, ("model", "train"))
    assert f"train.long_share {part.train.long_share} (study/params.yaml now: {study.train.long_share})" in line
    assert recipe_drift(part, study, ("model", "imdb")) == ""  # the classifiers never used train.*
    assert "rerun the part" in line
    assert recipe_drift(part, study, ("model", "train"), {"study/x/params.yaml": study}) == line  # not that regime
    named = recipe_drift(part, study, ("model", "train"), {"study/x/params.yaml": part})  # a regime committed as such
    assert named.startswith("**Made with study/x/params.yaml's recipe, a regime of its own**: train.long_share")
    assert "rerun" not in named


def test_the_cost_section_names_each_run_its_workers_mps_and_wall_time():
    from posenc.reporting.partial import throughput
    job = {"train_s": 50.0, "eval_s": 10.0}
    runs = {"runs": [{"workers": 2, "wall_s": 130.0, "jobs": [job, job, job, job]},
                     {"workers": 3, "mps": True, "wall_s": 61.0, "jobs": [job, job, job]},
                     {"workers": 1, "jobs": [{**job, "alone": True}]}]}
    lines = throughput(runs)
    assert lines[0] == "## Cost on this device"
    assert "- 2 workers: 4 jobs, median 60 s per job (train 50 s), 2.0 jobs per minute; the run: 4 jobs in 130 s." in lines
    assert "- 3 workers under MPS: 3 jobs, median 60 s per job (train 50 s), 3.0 jobs per minute; the run: 3 jobs in 61 s." in lines
    assert "- alone: 1 jobs, median 60 s per job (train 50 s), 1.0 jobs per minute." in lines
    assert throughput({}) == []


def test_a_pe_solved_only_at_the_training_length_is_named_with_its_shorter_length(tiny_params_dict):
    from posenc import config
    from posenc.reporting.partial import only_at_the_longest
    tiny_params_dict["synthetic"]["curve_lengths"] = [8, 12, 24]  # 24: past the training length, never checked
    cfg = config.from_dict(tiny_params_dict)
    T = cfg.synthetic.train_max_len

    def row(at_T, shorter):
        return {"seeds": [0, 1, 2], "per_seed": {f"exact_{T}": at_T}, "shorter": shorter}
    rows = {"learned": row([0.96, 0.99, 0.99], {8: [0.0, 0.0, 0.0], 12: [0.3, 0.2, 0.1]}),
            "rope": row([0.91, 0.90, 0.92], {8: [0.95, 0.96, 0.97], 12: [0.88, 0.92, 0.87]}),  # within noise
            "alibi": row([0.95, 0.96, 0.97], {8: [0.99, 0.98, 0.97], 12: [0.93, 0.94, 0.95]})}  # fine everywhere
    lines = only_at_the_longest(cfg, "copy_blank", rows)
    assert len(lines) == 1 and "learned 0.0 % at 8" in lines[0] and "rope" not in lines[0] and "alibi" not in lines[0]
    assert "train.long_share: 0.5" in lines[0]
    assert only_at_the_longest(cfg, "copy", {"alibi": rows["alibi"]}) == []
    one = {"learned": {"seeds": [0], "per_seed": {f"exact_{T}": [0.96]}, "shorter": {8: [0.0]}}}
    assert "learned 0.0 % at 8" in only_at_the_longest(cfg, "copy", one)[0]  # one seed: the sample's noise
    close = {"learned": {"seeds": [0], "per_seed": {f"exact_{T}": [0.91]}, "shorter": {8: [0.89]}}}
    assert only_at_the_longest(cfg, "copy", close) == []


def test_the_command_line_answers_a_missing_part_or_workspace_in_one_line_and_writes_nothing(tmp_path, capsys):
    part = tmp_path / "part"
    assert partial.main([str(part)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {part}/params.yaml: cannot read (No such file or directory)"
    assert partial.main([str(part), "--from", str(tmp_path / "ws")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'ws'}: not a study workspace")
    assert not part.exists()


def test_a_better_rate_is_tested_against_every_rate_the_sweep_tried(tiny_params_dict):
    """Each PE's best of several rates is a search: its gain must survive Holm over every other-rate model."""
    from posenc import config
    from posenc.reporting.sweep import part_verdict, rate_tests, sample_p
    tiny_params_dict["synthetic"]["eval_size"] = 256
    cfg = config.from_dict(tiny_params_dict)
    T, n, shared = cfg.synthetic.train_max_len, cfg.synthetic.eval_size, cfg.train.lr

    def row(lrs, exact):  # exact match at T per rate, ascending
        return {"lr": lrs, f"exact_{T}": exact, "shared_lr": shared, "best_lr": lrs[int(np.argmax(exact))]}
    up = shared * 2
    assert sample_p(0.93, 0.87, n) < 0.05  # alone, a 6-point gain is beyond the sample's noise
    alone = part_verdict(cfg, {"rope": row([shared, up], [0.87, 0.93])}, {"rope": "here"})[0]
    assert f"for rope at {up:g} (93.0 % against 87.0 %)" in alone and "Holm over the 1 other-rate model," in alone
    three = [shared / 2, shared, up]
    many = {f"pe{i}": row(three, [0.85, 0.87, 0.93]) for i in range(9)} | {"sinusoidal": row(three, [0.44, 0.645, 0.953])}
    p = rate_tests(cfg, many, {pe: "here" for pe in many})
    assert len(p) == 20 and p[("pe0", up)] >= 0.05 > p[("sinusoidal", up)]
    with_many = part_verdict(cfg, many, {pe: "here" for pe in many})[0]
    assert f"for sinusoidal at {up:g} (95.3 % against 64.5 %); not for pe0" in with_many  # one of twenty: Holm
    assert "Holm over the 20 other-rate models" in with_many
