"""House rules the code must keep: small files and functions, and no PE named outside the registry."""

import ast
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from posenc.nn.pe import available

CODE = sorted([*(ROOT / "src").rglob("*.py"), *(ROOT / "stages").glob("*.py")])


@pytest.mark.parametrize("path", CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_files_and_functions_stay_small(path: Path):
    text = path.read_text()
    assert len(text.splitlines()) <= 400
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 60]
    assert not long


@pytest.mark.parametrize("path", [p for p in CODE if "nn/pe" not in p.as_posix()],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_outside_the_registry_branches_on_a_pe_name(path: Path):
    names = set(available())
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.Compare, ast.Match)):
            consts = {c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
            assert not consts & names, f"{path.name}:{node.lineno} compares with a PE name"


def test_no_script_shadows_a_standard_library_module():
    # A script's own folder comes first on sys.path: bench/profile.py once hid the stdlib `profile`, and
    # bench/time_to_accuracy.py then died importing torch (torch._dynamo imports cProfile, which imports it).
    scripts = [p for folder in ("bench", "stages") for p in (ROOT / folder).glob("*.py")]
    assert scripts and not [p.name for p in scripts if p.stem in sys.stdlib_module_names]


def test_the_architecture_doc_names_every_module_stage_and_bench_script():
    # docs/architecture.md is the map a newcomer reads first: a module, stage or bench script it does not name is one
    # they cannot find (the PEs, one module each, have their own section and table).
    doc = (ROOT / "docs" / "architecture.md").read_text()
    modules = [p for p in (ROOT / "src" / "posenc").rglob("*.py")
               if p.name != "__init__.py" and "nn/pe" not in p.as_posix()]
    assert modules and not [str(p.relative_to(ROOT)) for p in modules if p.name not in doc]
    scripts = list((ROOT / "bench").glob("*.py"))
    assert scripts and not [p.name for p in scripts if p.name not in doc]
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert stages and not [s for s in stages if f"`{s}" not in doc]
