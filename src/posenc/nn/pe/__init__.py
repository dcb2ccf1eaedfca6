"""The PE registry: a PE's name is the name of its module in this package.

`posenc/nn/pe/<name>.py` defines the class `PE`; nothing else needs to know
about it. Modules are imported only when their PE is built, so a stage that
trains one PE imports (and, in dvc.yaml, depends on) the shared base and that
PE's module only: editing one PE re-runs its own stages and the stages that
gather every PE, never another PE's training. No code outside this package
tests a PE's name.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from posenc.errors import ConfigError

_HERE = Path(__file__).resolve().parent
_NOT_PES = {"base"}
NAME = re.compile(r"^[a-z0-9_]+$")  # DVC reserves '@' in stage names and joins matrix values with '-'


def available() -> tuple[str, ...]:
    """Every registered PE name, sorted (found from the module files, none imported)."""
    names = (m.name for m in pkgutil.iter_modules([str(_HERE)]))
    return tuple(sorted(n for n in names if n not in _NOT_PES and not n.startswith("_") and NAME.match(n)))


def module_path(name: str) -> Path:
    """The source file of one PE (what its stages depend on)."""
    return _HERE / f"{name}.py"


def pe_class(name: str):
    """The class of one PE, importing its module on first use."""
    if name not in available():
        raise ConfigError(f"pes: unknown PE {name!r}; choose from {', '.join(available())}")
    return importlib.import_module(f"{__name__}.{name}").PE


def check_sections(sections: dict[str, dict], dims) -> None:
    """Parse every PE's params section (params.yaml's `pe:`) with its own class; the first bad one raises."""
    for name, section in sections.items():
        pe_class(name).parse_params(section, f"pe.{name}", dims)


def build_pe(name: str, section, dims):
    """A PE from its name, its params section (pe.<name>) and the model's dimensions."""
    cls = pe_class(name)
    return cls(cls.parse_params(section, f"pe.{name}", dims), dims)
