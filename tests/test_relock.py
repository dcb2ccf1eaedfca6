"""bench/relock.py: dvc.lock after a change that moves no output, in a temporary two-stage repo.

The committed outputs are not in the cache (they came from another machine): the relocked lock must hash the
changed code as it is now, keep every output's and every output-as-dependency's hash, and leave `dvc status`
with nothing to say but the missing outputs."""

import os
import subprocess
import sys

import yaml

from conftest import ROOT

PIPELINE = """stages:
  make:
    cmd: python make.py
    deps: [make.py]
    params: [n]
    outs: [model.txt]
  use:
    cmd: python use.py
    deps: [use.py, model.txt]
    outs: [score.txt]
"""
GIT = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def run(root, *args, check=True):
    return subprocess.run(list(args), cwd=root, check=check, capture_output=True, text=True,
                          env={**os.environ, **GIT})


def stages(root):
    return yaml.safe_load((root / "dvc.lock").read_text())["stages"]


def repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    run(root, "git", "init", "-q")
    run(root, sys.executable, "-m", "dvc", "init", "-q")
    run(root, sys.executable, "-m", "dvc", "config", "core.analytics", "false")
    run(root, sys.executable, "-m", "dvc", "config", "cache.dir", str(tmp_path / "cache"))
    (root / "dvc.yaml").write_text(PIPELINE)
    (root / "params.yaml").write_text("n: 3\n")
    (root / "make.py").write_text("open('model.txt', 'w').write('m' * 3)\n")
    (root / "use.py").write_text("open('score.txt', 'w').write(str(len(open('model.txt').read())))\n")
    run(root, sys.executable, "-m", "dvc", "repro", "-q")
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "results")
    return root


def test_code_hashes_are_refreshed_and_every_output_hash_is_kept(tmp_path):
    root = repo(tmp_path)
    before = stages(root)
    (root / "make.py").write_text("# a refactor: the same output\nopen('model.txt', 'w').write('m' * 3)\n")
    (root / "use.py").write_text("# a comment\nopen('score.txt', 'w').write(str(len(open('model.txt').read())))\n")
    for name in ("model.txt", "score.txt"):  # as on a machine without the committed outputs
        (root / name).unlink()
    subprocess.run(["rm", "-rf", str(tmp_path / "cache")], check=True)
    stale = run(root, sys.executable, "-m", "dvc", "status").stdout
    assert "modified:           make.py" in stale and "modified:           use.py" in stale

    out = run(root, sys.executable, str(ROOT / "bench/relock.py"))
    assert "relocked 2 stages" in out.stdout
    after = stages(root)
    for name in ("make", "use"):
        assert after[name]["outs"] == before[name]["outs"]
    model_dep = next(d for d in after["use"]["deps"] if d["path"] == "model.txt")
    assert model_dep == before["make"]["outs"][0]  # another stage's output: the old hash, not looked up
    code = {d["path"]: d["md5"] for s in after.values() for d in s["deps"] if d["path"].endswith(".py")}
    old = {d["path"]: d["md5"] for s in before.values() for d in s["deps"] if d["path"].endswith(".py")}
    assert all(code[p] != old[p] for p in old)
    status = run(root, sys.executable, "-m", "dvc", "status").stdout
    assert "modified" not in status and "deleted:" in status  # only the outputs this machine does not have


def test_a_stage_the_old_lock_lacks_is_an_error_and_the_lock_is_untouched(tmp_path):
    root = repo(tmp_path)
    (root / "dvc.yaml").write_text(PIPELINE + "  new:\n    cmd: echo x > new.txt\n    outs: [new.txt]\n")
    lock = (root / "dvc.lock").read_text()
    out = run(root, sys.executable, str(ROOT / "bench/relock.py"), check=False)
    assert out.returncode != 0 and out.stderr.strip().splitlines()[-1] == (
        "error: new not in HEAD's dvc.lock: run them, do not relock them")
    assert (root / "dvc.lock").read_text() == lock
