"""End to end: `dvc repro` of a tiny configuration in a temporary copy of the repo, the results schema, a
second repro that skips everything, reruns, resuming, the run-cache, a remote, and the stage scripts' one-line
errors on bad input. `dvc exp run` and the queue run in tests/test_experiments.py, on a repo of their own, so
that the two modules run on two pytest workers side by side."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, tiny_params
from pipeline_repo import dvc, make_repo, repo_params, run, status
from posenc.artifacts import IMDB, Layout
from posenc.io import _umask

# learned, rope, alibi: an additive table with its clamp, a rotation with its evaluation variants, a bias (every
# registered PE gets the unit property tests; three here keep CI under 15 minutes). One synthetic task: the
# second runs the same code with another generator (tests/test_synthetic.py), and `make quick` runs both.
PES = ["learned", "rope", "alibi"]
TASKS = ["copy"]
VARIANTS = {"rope_pi", "rope_ntk", "rope_yarn"}  # evaluation-only variants of the rope models
FIGURES = sorted(f"{name}.png" for name in (  # stages plot and plot_maps (reporting/plots.py FIGURES, MAPS)
    "accuracy_vs_length", "attention_entropy", "attention_entropy_imdb", "attention_maps", "errors_along_span",
    "extrapolation_vs_step", "grad_norms", "grad_norms_imdb", "imdb_vs_length", "training_loss"))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A fresh git + dvc repo holding the project's code and the tiny params."""
    params = repo_params(PES, TASKS)
    return make_repo(tmp_path_factory.mktemp("repo"), tmp_path_factory.mktemp("imdb"), params)


def _check_synthetic_schema(results: dict, params: dict) -> None:
    """Every length, task and PE (and RoPE's evaluation variants) with the seed schema's keys."""
    assert set(results["synthetic"]) == {str(L) for L in params["synthetic"]["eval_lengths"]}
    for L, per_pe in results["synthetic"].items():
        assert set(per_pe) == set(PES) | VARIANTS
        assert all(0.0 <= acc <= 1.0 for acc in per_pe.values())
    for task in params["synthetic"]["tasks"]:
        for pe in PES:
            row = results["tasks"][task][pe]
            assert {"acc_16", "acc_32", "exact_16", "exact_32", "loss_16", "train_steps", "solved",
                    "first_step_acc", "first_step_exact", "per_seed", "ci", "ci_kind"} <= set(row)
            assert row["per_seed"]["exact_32"] == [row["exact_32"]] and row["train_steps"] == params["train"]["max_steps"]
            lo, hi = row["ci"]["acc_32"]
            assert lo <= row["acc_32"] <= hi and "bootstrap" in row["ci_kind"]  # one seed: over sequences
            assert results["tracking"][task][pe]["step"][-1] == params["train"]["max_steps"]
        evaluated = {str(L) for k in ("eval_lengths", "curve_lengths", "far_lengths") for L in params["synthetic"][k]}
        assert set(results["curves"][task][PES[0]]) == evaluated and params["synthetic"]["far_lengths"]
        assert {f"exact_{L}" for L in params["synthetic"]["far_lengths"]} <= set(results["tasks"][task][PES[0]])
        assert set(results["baselines"][task]) == {"lookup2", "lookup3"}
        assert set(results["errors"][task][PES[0]]) == {str(L) for L in params["synthetic"]["eval_lengths"]}
        assert set(results["tasks"][task]) == set(PES) | VARIANTS
        assert results["tasks"][task]["rope_pi"]["acc_16"] == results["tasks"][task]["rope"]["acc_16"]  # scale 1


def _check_imdb_schema(results: dict) -> None:
    """Every IMDb classifier (and RoPE's variants, the same weights) with accuracy, F1, loss and buckets."""
    assert set(results["imdb"]) == set(PES) | VARIANTS  # RoPE's evaluation variants on IMDb too
    assert results["imdb"]["rope_yarn"]["acc_16"] == results["imdb"]["rope"]["acc_16"]  # scale 1 at the training length
    assert results["imdb"]["rope_ntk"]["best_epoch"] == results["imdb"]["rope"]["best_epoch"]  # the same weights
    for pe, row in results["imdb"].items():
        assert {f"{k}_{L}" for k in ("acc", "f1", "loss") for L in (16, 32)} <= set(row)
        assert all(0.0 <= row[f"acc_{L}"] <= 1.0 for L in (16, 32))
        assert set(results["imdb_buckets"][pe]["32"]) <= {"<=16", "17-32", ">32"}
    assert results["imdb_data"]["test_reviews"] > 0


def _check_logs_probes_and_figures(repo, results: dict, params: dict) -> None:
    """DVCLive logs, probes, figures (the review figure kept out of git) and `dvc plots show`."""
    # DVCLive logs per model, and dvc.yaml left as it was (dvcyaml=None)
    names = [f"{task}_{pe}_s0" for task in params["synthetic"]["tasks"] for pe in PES] + [f"imdb_{pe}_s0" for pe in PES]
    for name in names:
        live = repo / "metrics/live" / name / "plots/metrics"
        assert (live / "train/loss.tsv").read_text().startswith("step\tloss\n")
        assert (live / "val/acc.tsv").is_file()
    assert (repo / "dvc.yaml").read_text() == (ROOT / "dvc.yaml").read_text()
    for task in (*params["synthetic"]["tasks"], "imdb"):
        for pe in PES:
            probe = json.loads((repo / f"metrics/probe/{task}_{pe}_s0.json").read_text())
            assert set(probe["gradients"]) == {"16", "32"}
            assert set(results["stability"][task][pe]) >= {"grad_norm_last_layer_32", "max_loss", "nan", "nan_count"}
    figures = sorted(p.name for p in (repo / "figures").glob("*.png"))
    assert figures == FIGURES
    assert "extrapolation_vs_step.png" in figures
    # the IMDb attention figure shows review text: built, DVC-cached, never seen by git
    assert (repo / "reviews/imdb_attention.png").is_file()
    assert run(["git", "check-ignore", "-q", "reviews/imdb_attention.png"], repo, check=False).returncode == 0
    maps = json.loads((repo / f"metrics/probe/imdb_{PES[0]}_s0.json").read_text())["review_maps"]
    assert set(maps) == {"positive", "negative", "ambiguous", "long"}
    shown = dvc(repo, "plots", "show", "--json")
    plots = json.loads(shown.stdout)["data"]
    assert {"exact_vs_length", "acc_vs_length", "imdb_vs_length", "train_loss"} <= set(plots)  # PEs on one axis
    assert "figures/accuracy_vs_length.png" in plots and not any("metrics/live" in k for k in plots)
    assert "warning" not in shown.stderr.lower() and "error" not in shown.stderr.lower()
    table = (repo / "figures/data/lengths.tsv").read_text().splitlines()
    assert table[0] == "task\tpe\tlength\tacc\texact" and {line.split("\t")[1] for line in table[1:]} >= set(PES)


def test_repro_writes_results_with_the_seed_schema_then_skips_everything(repo):
    dvc(repo, "repro")
    results = json.loads((repo / "metrics/results.json").read_text())
    params = repo_params(PES, TASKS)
    _check_synthetic_schema(results, params)
    _check_imdb_schema(results)
    _check_logs_probes_and_figures(repo, results, params)
    first = (repo / "metrics/results.json").read_bytes()

    second = dvc(repo, "repro")  # only the runtime stage runs (always), and it resolves the same precision
    assert [line for line in second.stdout.splitlines() if "Running stage" in line] == ["Running stage 'runtime':"]
    assert status(repo) == {}
    assert (repo / "metrics/results.json").read_bytes() == first
    assert json.loads((repo / "metrics/runtime.json").read_text())["dtype"] in ("float32", "bfloat16")
    assert all(json.loads(p.read_text())["summary"]["dtype"] in ("float32", "bfloat16")
               for p in (repo / "metrics/train").glob("*.json"))

    shown = json.dumps(json.loads(dvc(repo, "metrics", "show", "--json").stdout))
    assert "metrics/headline.json" in shown and "metrics/results.json" not in shown
    head = json.loads((repo / "metrics/headline.json").read_text())
    assert set(head) == set(PES)
    assert head["rope"]["copy_exact_16"] == results["tasks"]["copy"]["rope"]["exact_16"]
    assert head["alibi"]["imdb_acc_32"] == results["imdb"]["alibi"]["acc_32"]


def test_figures_are_rebuilt_from_metrics_alone(repo):
    """Stage plot needs only files git holds: without the probe arrays (data/probes) it redraws every figure but
    the attention maps, which stage plot_maps draws from those arrays once DVC has restored them."""
    shutil.rmtree(repo / "figures")
    shutil.rmtree(repo / "data/probes")  # as in a clone whose models and probe arrays are in no cache
    out = dvc(repo, "repro", "--single-item", "plot").stdout
    assert "Running stage 'plot'" in out
    assert sorted(p.name for p in (repo / "figures").glob("*.png")) == [f for f in FIGURES if f != "attention_maps.png"]
    dvc(repo, "checkout", "-q")  # the probe arrays back from the cache
    out = dvc(repo, "repro", "plot_maps").stdout
    assert "Running stage 'plot_maps'" in out and "Running stage 'probe" not in out
    assert sorted(p.name for p in (repo / "figures").glob("*.png")) == FIGURES
    assert status(repo) == {}


def test_report_is_written_and_timings_stay_out_of_tracked_files(repo):
    text = (repo / "REPORT.md").read_text()
    assert "## Why each encoding survives or collapses" in text and "](figures/accuracy_vs_length.png)" in text
    assert "No cost benchmark in this checkout" in text  # bench/profile.json comes from `make bench` only
    layout = Layout(repo)
    for task, pe in [("copy", "rope"), (IMDB, "alibi")]:
        assert "timing" not in json.loads(layout.train_log(task, pe).read_text())
        assert json.loads(layout.timing(task, pe).read_text())["wall_s"] > 0


def test_editing_one_pe_reruns_only_its_stages_and_the_gathering_ones(repo):
    assert status(repo) == {}
    module = repo / "src/posenc/nn/pe/rope.py"
    original = module.read_text()
    try:
        module.write_text(original + "\n# an edit\n")
        changed = set(status(repo))
    finally:
        module.write_text(original)
    own = {f"{stage}@{task}-rope-0" for stage in ("train", "evaluate", "probe") for task in TASKS}
    own |= {f"{stage}@rope-0" for stage in ("train_imdb", "evaluate_imdb", "probe_imdb")}
    assert changed == own | {"check_params", "plot", "plot_maps", "plot_reviews", "report"}
    assert status(repo) == {}


def test_a_fresh_workspace_restores_every_stage_from_the_recorded_run_cache(repo, tmp_path):
    """Issue 14: `dvc repro` records no run-cache for stages with `cache: false` outputs; `python -m
    posenc.runcache` does, and a second workspace sharing the cache then restores every training, evaluation
    and probe stage byte for byte, running none (how a stopped study resumes and reuses the default's models)."""
    assert status(repo) == {}
    run([sys.executable, "-m", "posenc.runcache"], repo)
    other = tmp_path / "other"
    for name in ("src", "stages", "templates"):
        shutil.copytree(repo / name, other / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    run("git init -q && git config user.email ci@example.com && git config user.name CI", other)
    dvc(other, "init", "-q")
    dvc(other, "config", "core.analytics", "false")
    dvc(other, "config", "--local", "cache.dir", str(repo / ".dvc" / "cache"))
    for name in ("dvc.yaml", "params.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(repo / name, other / name)
    # one stage of each kind and what it needs (the whole pipeline restores the same way, at ~1 s a stage)
    targets = [f"probe@copy-{PES[0]}-0", f"evaluate@copy-{PES[0]}-0", f"train_imdb@{PES[-1]}-0"]
    out = dvc(other, "repro", *targets).stdout
    ran = {s.split("@")[0] for s in re.findall(r"Running stage '([^']+)'", out)}
    assert not ran & {"prepare_synthetic", "train", "evaluate", "probe", "prepare_imdb", "train_imdb"}, ran
    assert out.count("is cached - skipping run") >= len(targets) + 3  # + train@copy, both prepare stages
    restored = model_md5s(other)
    assert restored and restored == {p: m for p, m in model_md5s(repo).items() if p in restored}
    for rel in (f"metrics/eval/copy_{PES[0]}_s0.json", f"metrics/probe/copy_{PES[0]}_s0.json",
                f"metrics/train/imdb_{PES[-1]}_s0.json", f"metrics/live/copy_{PES[0]}_s0/plots/metrics/train/loss.tsv"):
        assert (other / rel).read_bytes() == (repo / rel).read_bytes(), rel


def test_notebook_runs_headless_on_the_results(repo, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("POSENC_ROOT", str(repo))
    nb = nbformat.read(ROOT / "notebooks/results.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # committed without outputs
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}
                   ).execute()  # raises on any cell error
    outputs = json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])
    assert all(pe in outputs for pe in PES)
    assert "image/png" in outputs and "Why each encoding" in outputs


def model_md5s(repo) -> dict:
    """The md5 dvc.lock records for every checkpoint."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {o["path"]: o["md5"] for st in lock.values() for o in st.get("outs", []) if o["path"].endswith(".pt")}


def test_forced_rerun_gives_byte_identical_results_and_checkpoints(repo):
    """Same params, same machine: retraining leaves every tracked file as it was (no wall-clock anywhere)."""
    run("git add -A && git commit -qm results", repo)
    layout = Layout(repo)
    watched = [layout.results, layout.checkpoint("copy", "rope"), layout.checkpoint(IMDB, "alibi"),
               layout.eval_json("copy", "rope"), layout.probe_json("copy", "rope")]
    before = [p.read_bytes() for p in watched]
    lock = model_md5s(repo)
    dvc(repo, "repro", "--force", "train@copy-rope-0", "evaluate@copy-rope-0", "probe@copy-rope-0", "prepare_imdb",
        "train_imdb@alibi-0", "evaluate_imdb@alibi-0", "aggregate", "--single-item")
    assert [p.read_bytes() for p in watched] == before
    assert model_md5s(repo) == lock  # the same checkpoints: nothing downstream of them looks changed
    assert run("git status --porcelain", repo).stdout == ""  # metrics, live logs, dvc.lock: all unchanged
    assert oct(layout.checkpoint("copy", "rope").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_kill_9_mid_training_then_repro_resumes_and_ends_byte_identical(repo):
    """Issue 17's bar through DVC itself: SIGKILL the process group of `dvc repro` once a snapshot exists;
    the next `dvc repro` resumes (not from step 0) and the checkpoint equals an uninterrupted run's."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"].update(max_steps=400, resume_every=20)  # a window wide enough to kill in
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    ckpt, target = Layout(repo).checkpoint("copy", "rope"), "train@copy-rope-0"
    try:
        dvc(repo, "repro", "--single-item", target)
        uninterrupted = ckpt.read_bytes()
        cmd = [sys.executable, "-m", "dvc", "repro", "--force", "--single-item", target]
        env = {**os.environ, "PYTHONPATH": str(repo / "src"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        proc = subprocess.Popen(cmd, cwd=repo, env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not list((repo / ".resume").glob("copy_rope_s0-*.pt")) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not ckpt.exists(), "the run finished before the kill: widen the window"
        out = dvc(repo, "repro", "--single-item", target).stdout
        step = int(out.split("resuming from the snapshot at step ")[1].split()[0])
        assert 0 < step < 400 and ckpt.read_bytes() == uninterrupted
        assert not list((repo / ".resume").glob("copy_rope_s0-*.pt"))  # removed once the stage succeeded
    finally:
        run("git checkout -- params.yaml dvc.lock metrics", repo)
        dvc(repo, "checkout", "--force")
    assert status(repo) == {} and run("git status --porcelain", repo).stdout == ""


def test_models_round_trip_through_a_dvc_remote(repo, tmp_path):
    """A team shares trained models through a DVC remote (README, "Sharing trained models"): push, lose the
    models and the cache, pull, and every checkpoint is back byte for byte with nothing to rerun."""
    layout = Layout(repo)
    dvc(repo, "remote", "add", "--local", "-d", "team", str(tmp_path / "remote"))
    try:
        dvc(repo, "push")
        before = {p: p.read_bytes() for p in (layout.checkpoint("copy", "rope"), layout.checkpoint(IMDB, "alibi"))}
        shutil.rmtree(repo / "models")
        shutil.rmtree(repo / ".dvc" / "cache")
        dvc(repo, "pull")
        assert {p: p.read_bytes() for p in before} == before
        assert status(repo) == {}
    finally:
        dvc(repo, "remote", "remove", "--local", "team")


def stage(repo, script, *args, root=None, params=None):
    extra = (["--root", str(root)] if root else []) + (["--params", str(params)] if params else [])
    return run([sys.executable, f"stages/{script}.py", *extra, *args], repo, check=False)


def test_bad_input_is_one_line_and_writes_nothing(repo, tmp_path):
    layout = Layout(tmp_path)
    proc = stage(repo, "train", "--pe", "xpos", "--task", "copy", "--seed", "0", root=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "pes: 'xpos' is not listed" in proc.stderr
    assert not layout.checkpoint("copy", "xpos").exists()

    bad_params = tmp_path / "params.yaml"
    data = tiny_params()
    data["synthetic"]["eval_lengths"] = []
    bad_params.write_text(yaml.safe_dump(data))
    proc = stage(repo, "prepare_synthetic", root=tmp_path, params=bad_params)
    assert proc.returncode == 2 and "synthetic.eval_lengths: must not be empty" in proc.stderr
    assert not (tmp_path / "data").exists()

    corrupt = layout.synthetic_data("copy")
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(b"garbage")
    proc = stage(repo, "train", "--pe", "rope", "--task", "copy", "--seed", "7", root=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == "error: seeds: 7 is not listed (have 0)"
    proc = stage(repo, "train", "--pe", "rope", "--task", "copy", "--seed", "0", root=tmp_path)
    assert proc.returncode == 2 and "copy.npz: corrupt prepared data" in proc.stderr
    assert not layout.checkpoint("copy", "rope").exists() and not list(tmp_path.rglob(".*tmp*"))

    data = tiny_params()
    data["pe"]["rope"] = {"base": 10000.0, "scale": 2}
    bad_params.write_text(yaml.safe_dump(data))
    proc = stage(repo, "train", "--pe", "rope", "--task", "copy", "--seed", "0", params=bad_params)
    assert proc.returncode == 2 and proc.stderr.strip() == "error: pe.rope.scale: unknown key"


def test_imdb_stage_errors_are_one_line_and_write_nothing(repo, tmp_path):
    layout = Layout(tmp_path)
    proc = stage(repo, "train_imdb", "--pe", "xpos", "--seed", "0", root=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "pes: 'xpos'" in proc.stderr
    proc = stage(repo, "train_imdb", "--pe", "rope", "--seed", "0", root=tmp_path)
    assert proc.returncode == 2 and "train.npz: prepared IMDb split not found" in proc.stderr
    assert not layout.checkpoint(IMDB, "rope").exists()

    bad = layout.checkpoint(IMDB, "rope")
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a checkpoint")
    proc = stage(repo, "evaluate_imdb", "--pe", "rope", "--seed", "0", root=tmp_path)
    assert proc.returncode == 2 and "imdb_rope_s0.pt: corrupt checkpoint" in proc.stderr
    assert not layout.eval_json(IMDB, "rope").exists()


def test_no_stage_script_shadows_a_stdlib_module():
    """Stage scripts run with stages/ first on sys.path: a stages/profile.py once broke `import cProfile`
    inside torch for every stage."""
    names = {p.stem for p in (ROOT / "stages").glob("*.py")}
    assert not names & set(sys.stdlib_module_names)


def test_quick_prepares_a_separate_repo_with_the_tests_configuration(tmp_path, monkeypatch):
    """`make quick` runs this folder with `dvc repro` (timed by hand, see the README); here: its set-up."""
    from posenc import quick

    monkeypatch.delenv("IMDB_ARCHIVE", raising=False)
    line = quick.prepare(ROOT, tmp_path / "q")
    params = yaml.safe_load((tmp_path / "q/params.yaml").read_text())
    assert {k: v for k, v in params.items() if k != "imdb"} == {k: v for k, v in tiny_params().items() if k != "imdb"}
    archive = ROOT / tiny_params()["imdb"]["archive"]
    if archive.exists():  # a developer's checkout with the real data: it is read, cut down
        assert str(archive) in line and params["imdb"]["max_reviews"] == quick.QUICK_REVIEWS
    else:
        assert "generated reviews" in line and Path(params["imdb"]["archive"]).is_file()
    assert (tmp_path / "q/.dvc").is_dir() and (tmp_path / "q/dvc.yaml").read_text() == (ROOT / "dvc.yaml").read_text()
    assert run("git status --porcelain", tmp_path / "q").stdout == ""


def test_the_learning_rate_sweep_trains_evaluates_and_is_reported(repo, tmp_path):
    """Issue 15: train_lr/evaluate_lr on the repo's data (in another root, so the repo stays as it is), then the
    aggregate's sweep block and the report's table; a rate not in lr_sweep is a one-line error."""
    from posenc import config
    from posenc.reporting.sweep import sweep_results, sweep_section

    root = tmp_path / "root"
    (root / "metrics/eval").mkdir(parents=True)
    (root / "data").symlink_to(repo / "data")
    shutil.copy(repo / "metrics/runtime.json", root / "metrics")
    params = tiny_params()
    params.update(pes=["alibi"], lr_sweep=[0.004])
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    task = params["synthetic"]["headline_task"]
    shutil.copy(repo / f"metrics/eval/{task}_alibi_s0.json", root / "metrics/eval")
    args = ["--params", str(tmp_path / "p.yaml"), "--root", str(root), "--pe", "alibi", "--lr"]
    for script in ("train_lr", "evaluate_lr"):
        run([sys.executable, str(repo / f"stages/{script}.py"), *args, "0.004"], repo)
    bad = run([sys.executable, str(repo / "stages/train_lr.py"), *args, "0.5"], repo, check=False)
    assert bad.returncode != 0 and bad.stderr.strip().splitlines()[-1].startswith("error: lr_sweep: 0.5 is not listed")
    assert (root / f"models/{task}_alibi_lr0.004_s0.pt").is_file()
    cfg = config.from_dict(params)
    row = sweep_results(cfg, Layout(root))["alibi"]
    assert row["lr"] == sorted([0.004, params["train"]["lr"]]) and row["best_lr"] in row["lr"]
    L = max(params["synthetic"]["eval_lengths"])
    shared = json.loads((root / f"metrics/eval/{task}_alibi_s0.json").read_text())["lengths"][str(L)]
    assert row[f"exact_{L}"][row["lr"].index(params["train"]["lr"])] == shared["exact_match"]
    text = sweep_section(cfg, {"alibi": row})
    assert "## Learning-rate sensitivity" in text and f"| alibi | **{params['train']['lr']:g}**" in text
