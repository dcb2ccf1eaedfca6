"""dvc.yaml against the code: every stage depends on the whole import closure of its script (so a
change to any module it runs re-runs it), and its paths are the ones posenc/artifacts.py gives."""

import ast
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from posenc.artifacts import IMDB, Layout
from posenc.nn.pe import available
from posenc.reporting import plots

SRC = ROOT / "src"
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def module_file(name: str) -> Path | None:
    """The file of a project module (stage helper or posenc.*), or None for third-party modules."""
    if name == "_cli":
        return ROOT / "stages/_cli.py"
    if not name.startswith("posenc"):
        return None
    base = SRC.joinpath(*name.split("."))
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"


def imports_of(path: Path) -> set[Path]:
    """Project modules imported anywhere in a file (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from posenc.x import y` imports the module posenc.x.y when there is one
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            f = module_file(name)
            if f is not None and f.is_file():
                found.add(f)
    return found


def closure(script: Path) -> set[Path]:
    todo, seen = [script], set()
    while todo:
        f = todo.pop()
        if f not in seen:
            seen.add(f)
            todo += imports_of(f) - seen
    return {f for f in seen if f.read_text().strip()}  # empty package markers hold no behaviour


def expand(stage: dict, item: dict) -> dict:
    text = yaml.safe_dump({k: v for k, v in stage.items() if k != "matrix"})
    for key, value in item.items():
        text = text.replace("${item.%s}" % key, str(value))
    return yaml.safe_load(text)


def instances():
    """(name, stage with ${item.*} filled in, item) for every stage and every registered PE."""
    for name, stage in DVC.items():
        matrix = stage.get("matrix", {})
        if not matrix:
            yield name, stage, {}
            continue
        for pe in available():
            item = {"pe": pe, **({"task": "copy"} if "task" in matrix else {})}
            yield f"{name}@{pe}", expand(stage, item), item


def paths(entries) -> set[str]:
    return {next(iter(e)) if isinstance(e, dict) else e for e in entries or []}


def parent_gap(pe: str) -> set[Path]:
    """The known gap (dvc.yaml's header): a per-PE stage of a variant `<parent>_<x>` (rope_rand,
    hard_alibi_ngram) cannot list its parent's module."""
    parents = [p for p in available() if pe.startswith(f"{p}_")]
    return {SRC / f"posenc/nn/pe/{max(parents, key=len)}.py"} if parents else set()


@pytest.mark.parametrize("name,stage,item", list(instances()), ids=lambda x: x if isinstance(x, str) else "")
def test_stage_depends_on_every_module_it_runs(name, stage, item):
    script = ROOT / stage["cmd"].split()[1]
    deps = [ROOT / d for d in paths(stage["deps"])]
    code = [d for d in deps if d.is_relative_to(SRC) or d.is_relative_to(ROOT / "stages")]
    assert all(d.exists() for d in code), [str(d) for d in code if not d.exists()]  # no stale module names
    needed = closure(script)
    pe_base = SRC / "posenc/nn/pe/base.py"
    if pe_base in needed:  # PE modules are imported by name at run time (posenc.nn.pe.pe_class)
        pes = [item["pe"]] if "pe" in item else available()
        for pe in pes:
            needed |= closure(SRC / f"posenc/nn/pe/{pe}.py") - parent_gap(pe) if "pe" in item else \
                closure(SRC / f"posenc/nn/pe/{pe}.py")
    missing = {f for f in needed if not any(f == d or d in f.parents for d in deps)}
    assert not missing, f"{name}: dvc.yaml misses {sorted(str(f.relative_to(ROOT)) for f in missing)}"


@pytest.mark.parametrize("pe", available())
def test_a_per_pe_stage_never_depends_on_another_pe(pe):
    others = {f"src/posenc/nn/pe/{o}.py" for o in available() if o != pe} | {"src/posenc/nn/pe"}
    for name, stage in DVC.items():
        if "pe" in stage.get("matrix", {}):
            deps = paths(expand(stage, {"pe": pe, "task": "copy"})["deps"])
            assert not deps & others, name


@pytest.mark.parametrize("task", ["copy", "duplicate"])
def test_per_model_paths_are_the_artifacts_ones(task):
    pe, L = "rope", Layout(Path(""))
    s = {n: expand(DVC[n], {"pe": pe, "task": task, "seed": 0}) for n in ("train", "evaluate", "probe")}
    i = {n: expand(DVC[n], {"pe": pe, "seed": 0}) for n in ("train_imdb", "evaluate_imdb", "probe_imdb")}
    strs = lambda *ps: {str(p) for p in ps}  # noqa: E731
    assert paths(s["train"]["outs"]) == strs(L.checkpoint(task, pe), L.train_log(task, pe), L.live_dir(task, pe))
    assert {str(L.synthetic_data(task)), str(L.runtime)} <= paths(s["train"]["deps"])
    assert paths(s["evaluate"]["outs"]) == strs(L.eval_json(task, pe))
    assert {str(L.checkpoint(task, pe)), str(L.synthetic_data(task))} <= paths(s["evaluate"]["deps"])
    assert paths(s["probe"]["outs"]) == strs(L.attention_maps(task, pe), L.probe_json(task, pe))
    assert paths(expand(DVC["baselines"], {"task": task})["outs"]) == strs(L.baselines(task))
    assert str(L.synthetic_data(task)) in paths(expand(DVC["baselines"], {"task": task})["deps"])
    assert paths(i["train_imdb"]["outs"]) == strs(L.checkpoint(IMDB, pe), L.train_log(IMDB, pe), L.live_dir(IMDB, pe))
    assert str(L.imdb_data) in paths(i["train_imdb"]["deps"])
    assert paths(i["evaluate_imdb"]["outs"]) == strs(L.eval_json(IMDB, pe))
    assert paths(i["probe_imdb"]["outs"]) == strs(L.probe_json(IMDB, pe), L.attention_maps(IMDB, pe))
    assert str(L.checkpoint(IMDB, pe)) in paths(i["probe_imdb"]["deps"])


def test_gathering_stages_write_the_artifacts_paths():
    L = Layout(Path(""))
    assert paths(DVC["prepare_imdb"]["outs"]) == {str(L.imdb_data), str(L.imdb_summary)}
    assert paths(DVC["aggregate"]["outs"]) == {str(L.results)}
    # the review figure shows review text: a cached output (never `cache: false`, which git would track)
    assert DVC["plot_reviews"]["outs"] == [str(L.review_figure)]
    # the headline file is the only DVC metric: `dvc exp show` stays readable
    assert paths(DVC["aggregate"]["metrics"]) == {str(L.headline)}
    assert [n for n, st in DVC.items() if "metrics" in st] == ["aggregate"]
    assert "profile" not in DVC and paths(DVC["runtime"]["outs"]) == {str(L.runtime)}  # timings are no output
    # every figure the code draws is declared, the attention maps in a stage of their own (they need data/probes)
    assert paths(DVC["plot"]["outs"]) == {str(L.figures / f) for f in plots.FIGURES} | {str(L.figures / "data")}
    assert paths(DVC["plot_maps"]["outs"]) == {str(L.figures / plots.MAPS)}
    assert "data/probes" in DVC["plot_maps"]["deps"] and not any(d.startswith("data") for d in DVC["plot"]["deps"])
    assert paths(DVC["report"]["outs"]) == {str(L.report)}
    assert paths(DVC["prepare_synthetic"]["outs"]) == {str(L.synthetic_data("copy").parent), str(L.far_data("copy").parent)}


def test_the_closure_check_would_catch_a_missing_module():
    """Guard the guard: the train stage's closure really reaches the engine and the backbone."""
    needed = {str(f.relative_to(ROOT)) for f in closure(ROOT / "stages/train.py")}
    assert {"src/posenc/engine/trainer.py", "src/posenc/nn/backbone.py", "src/posenc/nn/pe/__init__.py",
            "stages/_cli.py", "src/posenc/data/synthetic.py"} <= needed
    assert not any("reporting" in f or "imdb" in f for f in needed)
