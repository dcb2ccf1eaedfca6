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


def test_a_split_stage_takes_its_inputs_from_the_old_one_and_hashes_only_unchanged_committed_outputs(tmp_path):
    """`use` wrote one folder; now `use` writes one of its files and `use_b` the other (the plot/plot_maps split).
    Their outputs are committed files unchanged since HEAD: hashed as they are; the shared input keeps its old hash."""
    root = tmp_path / "repo"
    root.mkdir()
    for args in (("git", "init", "-q"), (sys.executable, "-m", "dvc", "init", "-q"),
                 (sys.executable, "-m", "dvc", "config", "core.analytics", "false"),
                 (sys.executable, "-m", "dvc", "config", "cache.dir", str(tmp_path / "cache"))):
        run(root, *args)
    (root / "make.py").write_text("open('model.txt', 'w').write('m')\n")
    (root / "use.py").write_text("import os\nos.makedirs('out', exist_ok=True)\n"
                                 "for n in 'ab': open(f'out/{n}.txt', 'w').write(n)\n")
    (root / "dvc.yaml").write_text("stages:\n  make:\n    cmd: python make.py\n    deps: [make.py]\n    outs: [model.txt]\n"
                                   "  use:\n    cmd: python use.py\n    deps: [use.py, model.txt]\n"
                                   "    outs:\n      - out:\n          cache: false\n")
    run(root, sys.executable, "-m", "dvc", "repro", "-q")
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "results")
    before = stages(root)
    (root / "dvc.yaml").write_text("stages:\n  make:\n    cmd: python make.py\n    deps: [make.py]\n    outs: [model.txt]\n"
                                   + "".join(f"  {s}:\n    cmd: python {s}.py\n    deps: [{s}.py, model.txt]\n"
                                             f"    outs:\n      - out/{n}.txt:\n          cache: false\n"
                                             for s, n in (("use", "a"), ("use_b", "b"))))
    (root / "use_b.py").write_text("open('out/b.txt', 'w').write('b')\n")
    (root / "model.txt").unlink()  # as on a machine without the committed model
    subprocess.run(["rm", "-rf", str(tmp_path / "cache")], check=True)
    assert run(root, sys.executable, str(ROOT / "bench/relock.py"), check=False).returncode != 0  # no old use_b
    run(root, sys.executable, str(ROOT / "bench/relock.py"), "--split", "use=use", "--split", "use_b=use")
    after = stages(root)
    old_model = before["make"]["outs"][0]
    for name in ("use", "use_b"):
        assert next(d for d in after[name]["deps"] if d["path"] == "model.txt") == old_model
    status = run(root, sys.executable, "-m", "dvc", "status").stdout
    assert "modified" not in status and "out/" not in status
    (root / "out/b.txt").write_text("changed")  # not what git holds: the split cannot vouch for it
    out = run(root, sys.executable, str(ROOT / "bench/relock.py"), "--split", "use=use", "--split", "use_b=use",
              check=False)
    assert out.returncode != 0 and "use_b's output out/b.txt is not a file git tracks unchanged since HEAD" in out.stderr
