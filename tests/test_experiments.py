"""`dvc exp run -S` and `dvc queue` as the README gives them, on a tiny pipeline repo of this module's own
(tests/pipeline_repo.py): built and reproduced once, its results committed, then experiments on top. Apart
from tests/test_pipeline.py so that pytest's two workers run the two repos side by side."""

import csv
import io
import json
import sys
import time

import pytest

from pipeline_repo import documented_dvc, dvc, make_repo, repo_params, run

# Two PEs: one whose own hyperparameter an experiment changes (rope), one that must stay as it was (alibi).
PES = ["alibi", "rope"]
TASKS = ["copy"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """The tiny pipeline reproduced, and its results committed: the baseline every experiment compares with."""
    dst = make_repo(tmp_path_factory.mktemp("repo"), tmp_path_factory.mktemp("imdb"), repo_params(PES, TASKS))
    dvc(dst, "repro")
    run("git add -A && git commit -qm results", dst)
    return dst


def test_a_misspelled_param_fails_the_run_at_once(repo):
    """`-S +key=...` adds a key no stage reads: the guard stage (it depends on all of params.yaml) refuses it."""
    try:
        proc = dvc(repo, "exp", "run", "-S", "+nosuch.key=1", check=False)
        assert proc.returncode != 0
        assert "error: nosuch: unknown key" in proc.stdout + proc.stderr
        assert "Running stage 'train" not in proc.stdout
    finally:
        run("git checkout -- params.yaml", repo)


def test_exp_run_with_set_param_changes_the_metrics_it_should(repo):
    before = json.loads((repo / "metrics/results.json").read_text())
    documented_dvc(repo, "dvc exp run -S pe.rope.base=500")
    after = json.loads((repo / "metrics/results.json").read_text())
    # a PE's own hyperparameter retrains that PE only (README): rope's numbers move, every other PE's stay
    assert any(after["tasks"][t]["rope"][k] != before["tasks"][t]["rope"][k]
               for t in before["tasks"] for k in before["tasks"][t]["rope"] if k.startswith("loss_"))
    others = [pe for pe in PES if pe != "rope"]
    assert all(after["tasks"][t][pe] == before["tasks"][t][pe] for t in before["tasks"] for pe in others)
    assert all(after["imdb"][pe] == before["imdb"][pe] for pe in others)
    diff = json.loads(dvc(repo, "metrics", "diff", "--json", "HEAD").stdout)
    assert set(diff) <= {"metrics/headline.json"}  # the headline numbers only, never timing noise
    assert all(k.startswith("rope.") for k in diff.get("metrics/headline.json", {}))
    table = dvc(repo, "exp", "show", "--only-changed", "--csv").stdout.splitlines()
    columns = table[0].split(",")
    assert len(columns) <= 40, columns
    assert "pe.rope.base" in columns and any("500" in row for row in table[1:])
    full = dvc(repo, "exp", "show", "--csv").stdout.splitlines()[0].split(",")  # unchanged ones included
    assert {f"{pe}.copy_exact_16" for pe in PES} | {f"{pe}.imdb_acc_32" for pe in PES} <= set(full)
    assert not any(c.startswith(("tasks.", "curves.", "stability.", "imdb_buckets.")) for c in full)


def test_queued_experiments_run_two_at_a_time(repo):
    """The README's parallel recipe: `dvc exp run --queue -S ...`, then `POSENC_THREADS=1 dvc queue start -j 2`
    (a cheap param, so only the IMDb probes and the gathering stages rerun in each)."""
    for size in (6, 10):
        dvc(repo, "exp", "run", "--queue", "-S", f"imdb.map_window={size}")
    # it only starts the workers, yet took over 120 s beside a training run on a slow 2-core CPU
    run(f"POSENC_THREADS=1 {sys.executable} -m dvc queue start -j 2", repo, timeout=300)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        states = run([sys.executable, "-m", "dvc", "queue", "status"], repo, timeout=120).stdout
        if not any(word in states for word in ("Queued", "Running")):
            break
        time.sleep(3)
    # --kill: a plain stop waits for running tasks, forever if one of them hangs
    run([sys.executable, "-m", "dvc", "queue", "stop", "--kill"], repo, check=False, timeout=120)
    assert states.count("Success") >= 2 and "Failed" not in states, states
    table = list(csv.DictReader(io.StringIO(dvc(repo, "exp", "show", "--csv").stdout)))  # quoted lists hold commas
    assert {"6", "10"} <= {row["imdb.map_window"] for row in table}
