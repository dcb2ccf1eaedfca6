"""Refresh dvc.lock's code hashes after a change shown not to change any output, keeping every output's hash.

When to use it: the committed results came from another machine (their models are not in this machine's DVC
cache), the code changed since in a way that changes no output (a refactor), and rerunning the pipeline here
would give another CPU's numbers (README "CPU and GPU": another CPU model is another run), not the committed
ones. Then `dvc repro` can only replace the committed results, and `dvc commit` can only record this
machine's outputs. This script writes what the lock should say instead: every stage's dependencies as they are
now (source files, directories and params, hashed by DVC itself), every dependency that is another stage's
output, and every output, as the committed lock has them.

It is a claim, so it needs evidence first, on this machine: models trained and evaluated with the old and the
new code must give byte-identical numbers (docs/recipe.md, "The lock after a change that moves no number", names
the checks of 2026-12-03). Never use it for
a change that moves a number. `git diff dvc.lock` afterwards shows only hashes of code and params. A stage whose
output the change does move (the report, when its text changed) is then run for real, forced, since the relock
has just told DVC it is up to date: `dvc repro --force --single-item report`.

    python bench/relock.py                    # rewrites dvc.lock from HEAD's, then `dvc status` to check
    python bench/relock.py --ref <commit>     # the lock whose outputs to keep
    python bench/relock.py --split plot=plot --split plot_maps=plot   # a stage split in two (see below)

A stage split in two, or whose outputs were declared anew (one directory output as several files), has no old
entry for them: `--split NEW=OLD` takes NEW's dependencies that are other stages' outputs from OLD's old entry,
and hashes NEW's outputs that entry lacks as they are in the working tree, each of them tracked by git and
unchanged since the ref. The claim is then that the stage's code writes those very files: check it by
rerunning the stage where its inputs exist and comparing the bytes (docs/recipe.md names the check of
2026-12-07, stage plot split off plot_maps).
"""

import argparse
import subprocess
from pathlib import Path

import yaml
from dvc.dependency.param import ParamsDependency
from dvc.dvcfile import Lockfile
from dvc.repo import Repo
from dvc_data.hashfile.hash_info import HashInfo
from dvc_data.hashfile.meta import Meta


def _output(path: str, produced: list[str]) -> bool:
    """Whether `path` is another stage's output, a file inside one (a directory output), or a directory
    holding outputs (data/probes: every probe stage's file)."""
    return any(path == p or path.startswith(p.rstrip("/") + "/") or p.startswith(path.rstrip("/") + "/")
               for p in produced)


def _keep(item, entry: dict) -> None:
    """Give a dependency or output the hash the old lock recorded for it."""
    item.hash_info = HashInfo("md5", entry["md5"])
    item.meta = Meta(isdir=entry["md5"].endswith(".dir"), size=entry.get("size"), nfiles=entry.get("nfiles"))


def _unchanged(path: str, ref: str) -> bool:
    """Whether git tracks `path` (a file, or the files of a folder) and it is as at `ref` in the working tree."""
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", path], capture_output=True).returncode == 0
    return tracked and subprocess.run(["git", "diff", "--quiet", ref, "--", path]).returncode == 0


def relock(stage, old: dict, produced: list[str], split_from: str = "", ref: str = "HEAD") -> None:
    """Hash the stage's own deps and params as they are now; keep the old hashes of other stages' outputs
    (its deps) and of its outputs. A split stage (split_from: the old stage's name) hashes the outputs its
    old entry lacks from the working tree, if git has them unchanged since `ref`."""
    kept = {d["path"]: d for d in old.get("deps", [])}
    outs = {o["path"]: o for o in old.get("outs", [])}
    for dep in stage.deps:
        if isinstance(dep, ParamsDependency) or not _output(dep.def_path, produced):
            dep.save()  # a source file, a directory of them, or params
        elif dep.def_path in kept:
            _keep(dep, kept[dep.def_path])
        else:
            raise SystemExit(f"error: {stage.addressing} depends on {dep.def_path}, which its old lock entry does "
                             "not have: run the stage, do not relock it")
    for out in stage.outs:
        if out.def_path in outs:
            _keep(out, outs[out.def_path])
        elif split_from and _unchanged(out.def_path, ref):
            out.save()  # the committed file(s), which the claim says the stage writes
        elif split_from:
            raise SystemExit(f"error: {stage.addressing}'s output {out.def_path} is not a file git tracks unchanged "
                             f"since {ref}")
        else:
            raise SystemExit(f"error: {stage.addressing}'s output {out.def_path} is not in its old lock entry")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", default="HEAD", help="the commit whose dvc.lock holds the outputs to keep")
    ap.add_argument("--split", action="append", default=[], metavar="NEW=OLD",
                    help="a stage split off OLD (or NEW=NEW: its outputs declared anew); see above")
    args = ap.parse_args()
    split = dict(item.split("=", 1) for item in args.split)
    text = subprocess.run(["git", "show", f"{args.ref}:dvc.lock"], check=True, capture_output=True, text=True).stdout
    old = yaml.safe_load(text)["stages"]
    produced = [o["path"] for s in old.values() for o in s.get("outs", [])]
    repo = Repo(".")
    stages = list(repo.index.stages)
    missing = [s.addressing for s in stages if split.get(s.addressing, s.addressing) not in old]
    if missing:
        raise SystemExit(f"error: {', '.join(missing)} not in {args.ref}'s dvc.lock: run them, do not relock them")
    for stage in stages:
        source = split.get(stage.addressing, "")
        relock(stage, old[source or stage.addressing], produced, source, args.ref)
    Path("dvc.lock").write_text(text)  # the old lock, then each stage's entry replaced by DVC's own writer
    lockfile = Lockfile(repo, "dvc.lock")
    for stage in stages:
        lockfile.dump(stage)
    print(f"relocked {len(stages)} stages: code and params as they are now, outputs as in {args.ref}")


if __name__ == "__main__":
    main()
