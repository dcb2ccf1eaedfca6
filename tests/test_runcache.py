"""posenc.runcache: DVC's run-cache for stages with `cache: false` outputs, which `dvc repro` skips.

A two-stage pipeline in a temporary repo with a cache of its own (never the user's global one)."""

import subprocess
import sys

from posenc import runcache

PIPELINE = """stages:
  make:
    cmd: echo ran >> runs.log && cp in.txt model.bin && echo 7 > m.json && mkdir -p live && echo 1 > live/a.tsv
    deps: [in.txt]
    outs:
      - model.bin
      - m.json:
          cache: false
      - live:
          cache: false
  other:
    cmd: echo ran >> other.log && cp other.txt other.bin
    deps: [other.txt]
    outs: [other.bin]
"""


def dvc(root, *args):
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, check=True, capture_output=True, text=True)


def entries(cache):
    return sorted(p.name for p in (cache / "runs").rglob("*") if p.is_file()) if (cache / "runs").exists() else []


def test_saved_entries_restore_every_output_and_stale_stages_are_never_saved(tmp_path):
    root, cache = tmp_path / "repo", tmp_path / "cache"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    dvc(root, "config", "cache.dir", str(cache))
    (root / "dvc.yaml").write_text(PIPELINE)
    (root / "in.txt").write_text("a\n")
    (root / "other.txt").write_text("b\n")
    dvc(root, "repro", "-q")
    assert len(entries(cache)) == 1  # `other` only: dvc repro skips the run-cache of `make` (cache: false outputs)

    (root / "other.txt").write_text("changed\n")  # `other` is now stale: its outputs are not those of its inputs
    assert runcache.save(root) == (1, 1)
    assert len(entries(cache)) == 2

    for name in ("dvc.lock", "model.bin", "m.json", "runs.log"):
        (root / name).unlink()
    subprocess.run(["rm", "-rf", str(root / "live")], check=True)
    out = dvc(root, "repro", "make")
    assert "is cached - skipping run" in out.stdout + out.stderr and not (root / "runs.log").exists()
    assert (root / "model.bin").read_text() == "a\n" and (root / "m.json").read_text() == "7\n"
    assert (root / "live/a.tsv").read_text() == "1\n"


def test_a_folder_without_a_pipeline_is_a_one_line_error(tmp_path, capsys):
    assert runcache.main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path.resolve() / 'dvc.yaml'}: no DVC pipeline here"
