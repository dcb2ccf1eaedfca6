"""The study configuration (study/params.yaml, make study): a strict superset of the CPU default,
run in its own workspace whose results are copied to study/."""

import shutil

import yaml

from conftest import ROOT
from posenc import config, study, workspace

# lists the study may extend; nothing else differs (far_lengths: evaluation only, in a data file train never reads)
SUPERSET = {("lr_sweep",), ("seeds",), ("pes",), ("synthetic", "tasks"), ("synthetic", "far_lengths")}
MORE_TEST = ("imdb", "test_reviews")  # evaluation only: the study may score more test reviews (0 = all)


def flat(d, prefix=()):
    for k, v in d.items():
        if isinstance(v, dict) and prefix + (k,) != ("pe",):
            yield from flat(v, prefix + (k,))
        else:
            yield prefix + (k,), v


def test_study_is_a_strict_superset_of_the_default():
    """Same shape, recipe, steps, data and evaluation sets; more seeds, PEs and tasks, never fewer steps."""
    default = yaml.safe_load((ROOT / "params.yaml").read_text())
    study_params = yaml.safe_load((ROOT / "study/params.yaml").read_text())
    config.from_dict(study_params)  # valid
    d, s = dict(flat(default)), dict(flat(study_params))
    assert set(d) == set(s)
    for key, value in d.items():
        if key in SUPERSET:
            assert set(value) <= set(s[key]) and list(s[key][: len(value)]) == list(value), key
        elif key == MORE_TEST:
            assert s[key] == 0 or (value and s[key] >= value), key
        elif key == ("pe",):
            assert all(s[key][pe] == value[pe] for pe in value)
        else:
            assert s[key] == value, key
    assert len(study_params["seeds"]) >= 3 and {"copy_blank", "duplicate_blank"} <= set(study_params["synthetic"]["tasks"])
    assert {2048, 4096} <= set(study_params["synthetic"]["far_lengths"]) and max(
        study_params["synthetic"]["far_lengths"]) <= study_params["model"]["max_positions"]


def test_collect_copies_results_and_replaces_stale_ones(tmp_path):
    ws, out = tmp_path / "ws", tmp_path / "study"
    (ws / "metrics").mkdir(parents=True)
    (ws / "metrics/results.json").write_text("{}")
    (ws / "dvc.lock").write_text("schema: '2.0'\n")
    (out / "metrics").mkdir(parents=True)
    (out / "metrics/stale.json").write_text("old")
    assert workspace.collect(ws, out) == ["dvc.lock", "metrics"]
    assert (out / "metrics/results.json").read_text() == "{}" and not (out / "metrics/stale.json").exists()


def test_bad_study_params_is_one_line_and_does_nothing(tmp_path, monkeypatch, capsys):
    (tmp_path / "study").mkdir()
    (tmp_path / "study/params.yaml").write_text("seed: 0\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STUDY_DIR", str(tmp_path / "ws"))
    assert study.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and not (tmp_path / "ws").exists()


def test_study_params_names_another_part_whose_results_land_beside_it(tmp_path, monkeypatch, capsys):
    """STUDY_PARAMS runs another part's configuration (study/gpu_12k/params.yaml) with the same stages; a
    missing file is one line naming it, and a finished run's results go to that file's folder, not study/."""
    (tmp_path / "study/gpu_12k").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STUDY_DIR", str(tmp_path / "ws"))
    monkeypatch.setenv("STUDY_PARAMS", "study/gpu_12k/missing.yaml")
    assert study.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "study/gpu_12k/missing.yaml" in err and not (tmp_path / "ws").exists()

    shutil.copy(ROOT / "study/gpu_12k/params.yaml", tmp_path / "study/gpu_12k/params.yaml")
    monkeypatch.setenv("STUDY_PARAMS", "study/gpu_12k/params.yaml")
    seen = {}
    monkeypatch.setattr(workspace, "prepare",
                        lambda root, dest, params, fresh: seen.update(steps=params["train"]["max_steps"]))
    monkeypatch.setattr(workspace, "repro", lambda dest, *targets: 0)
    monkeypatch.setattr(workspace, "collect", lambda dest, out: seen.update(out=out) or ["dvc.lock"])
    assert study.main([]) == 0
    assert seen == {"steps": 12000, "out": tmp_path / "study/gpu_12k"}


def test_gpu_driver_runs_its_queue_in_order_and_returns_each_model(tmp_path):
    """study/gpu/drive.py (the device runs' driver): the jobs named in QUEUE, in that order (a model of the
    learning-rate sweep among them), each model's metrics copied to $OUT as soon as it is done, and nothing
    outside the queue trained; MPS=1 where the MPS daemon is missing runs on without it and says so."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    from posenc.quick import quick_params

    params = quick_params(yaml.safe_load((ROOT / "study/params.yaml").read_text()))
    params["lr_sweep"] = [0.004]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    out, queue = tmp_path / "out", [["copy", "rope", 0], ["copy", "rope", 0, 0.004], ["copy", "learned", 1]]
    out.mkdir()
    env = {**os.environ, "OUT": str(out), "WS": str(tmp_path / "ws"), "QUEUE": json.dumps(queue), "EST": "1",
           "MPS": "1"}
    run = subprocess.run([sys.executable, "study/gpu/drive.py", "600", "1", str(tmp_path / "p.yaml")], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    jobs = json.loads((out / "jobs.json").read_text())["jobs"]
    assert [[j["task"], j["pe"], j["seed"], *([j["lr"]] if "lr" in j else [])] for j in jobs] == queue
    assert all(j["train_rc"] == 0 and j["eval_rc"] == 0 for j in jobs)
    for kind in ("train", "eval"):
        assert sorted(p.name for p in (out / "metrics" / kind).iterdir()) == \
            ["copy_learned_s1.json", "copy_rope_lr0.004_s0.json", "copy_rope_s0.json"]
    assert json.loads((out / "metrics/eval/copy_rope_lr0.004_s0.json").read_text())["lr"] == 0.004
    assert json.loads((out / "metrics/eval/copy_learned_s1.json").read_text())["seed"] == 1
    assert (out / "metrics/runtime.json").exists() and (out / "study_gpu.tar.gz").exists()
    if not shutil.which("nvidia-cuda-mps-control"):
        assert "MPS: requested, did not start" in run.stdout
        assert json.loads((out / "jobs.json").read_text())["summary"]["mps"] is False


def test_committed_device_queues_name_only_models_of_the_study():
    """Every queue a device run takes (study/gpu*/queue_*.json) names a task, PE and seed of study/params.yaml
    (and a sweep item, a rate of its lr_sweep on the headline task), so a queue cannot go stale silently."""
    import json

    params = yaml.safe_load((ROOT / "study/params.yaml").read_text())
    queues = sorted(ROOT.glob("study/gpu*/queue_*.json"))
    assert queues
    for q in queues:
        for task, pe, seed, *lr in json.loads(q.read_text()):
            assert task in params["synthetic"]["tasks"] and pe in params["pes"] and seed in params["seeds"], (q, task, pe)
            if lr:
                assert task == params["synthetic"]["headline_task"] and lr[0] in params["lr_sweep"], (q, lr)


def test_the_longer_budget_part_is_the_study_with_only_its_steps_changed():
    """study/gpu_12k/params.yaml (issue 15's budget question, run on a lent GPU) is study/params.yaml with
    train.max_steps alone changed, and longer: so its models differ from the study's in the budget only."""
    study = yaml.safe_load((ROOT / "study/params.yaml").read_text())
    longer = yaml.safe_load((ROOT / "study/gpu_12k/params.yaml").read_text())
    assert longer["train"].pop("max_steps") > study["train"].pop("max_steps")
    assert longer == study
