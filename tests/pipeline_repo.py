"""The tiny pipeline repo the end-to-end tests run `dvc` in (tests/test_pipeline.py, tests/test_experiments.py):
a fresh git + dvc repo with the project's code, the tests' tiny params and generated reviews, and the helpers
that run commands in it. Each test module builds its own (a module-scoped fixture), so the two modules run
on two pytest workers side by side."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import ROOT, tiny_params
from posenc.data.fake_imdb import write_archive
from posenc.workspace import NO_PARTS


def repo_params(pes: list[str], tasks: list[str]) -> dict:
    """The tiny params with these PEs and synthetic tasks."""
    params = tiny_params()
    params["pes"] = list(pes)
    params["synthetic"]["tasks"] = list(tasks)
    return params


def run(cmd, cwd, check=True, timeout=1200):
    """Run `cmd` in `cwd` with the repo's code first on the path. A command that outlives `timeout` seconds is
    killed with its whole process group and fails the test: a hung `dvc` must fail CI, not stall it."""
    env = {**os.environ, "PYTHONPATH": str(Path(cwd) / "src"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          shell=isinstance(cmd, str), start_new_session=True) as child:
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.kill()  # the group is gone; closing our pipes is all that is left
            raise AssertionError(f"{cmd} did not finish within {timeout} s") from None
    proc = subprocess.CompletedProcess(cmd, child.returncode, stdout, stderr)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_repo(dst: Path, reviews: Path, params: dict) -> Path:
    """A fresh git + dvc repo in `dst` holding the project's code and `params`, reviews generated in `reviews`."""
    for name in ("src", "stages", "templates"):
        shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "dvc.yaml", dst / "dvc.yaml")
    (dst / "study").mkdir()  # no parts of the study: the report's section on them is left out
    (dst / "study/README.md").write_text(NO_PARTS)  # tracked, so experiments' workspaces have it too
    # generated reviews, read through imdb.archive; never the network
    params["imdb"].update(archive=str(write_archive(reviews / "aclImdb_v1.tar.gz")), url="", hub_dataset="")
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (dst / ".gitignore").write_text("/data/\n/models/\n/timings/\n__pycache__/\n")
    run("git init -q && git config user.email ci@example.com && git config user.name CI", dst)
    run([sys.executable, "-m", "dvc", "init", "-q"], dst)
    run([sys.executable, "-m", "dvc", "config", "core.analytics", "false"], dst)
    # its own cache, whatever a developer's global cache.dir says: the tests never depend on it
    run([sys.executable, "-m", "dvc", "config", "--local", "cache.dir", str(dst / ".dvc" / "cache")], dst)
    shutil.copy(ROOT / ".dvcignore", dst / ".dvcignore")  # __pycache__ must not change the PE folder's hash
    run("git add -A && git commit -qm init", dst)
    return dst


def dvc(repo, *args, check=True):
    return run([sys.executable, "-m", "dvc", *args], repo, check=check)


def status(repo) -> dict:
    """`dvc status` without the runtime stage, which always runs by design."""
    return {k: v for k, v in json.loads(dvc(repo, "status", "--json").stdout).items() if k != "runtime"}


def documented_dvc(repo, command: str):
    """A dvc command as the README says to run it: `source .venv/bin/activate` first, no venv on PATH."""
    activate = Path(sys.prefix) / "bin/activate"
    if sys.prefix == sys.base_prefix or not activate.is_file():  # not in a virtualenv: call dvc directly
        return dvc(repo, *command.split()[1:])
    env = {"HOME": os.environ.get("HOME", "/tmp"), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(repo) / "src")}
    proc = subprocess.run(["bash", "-c", f"source {activate} && {command}"], cwd=repo, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"{command}:\n{proc.stdout}\n{proc.stderr}"
    return proc
