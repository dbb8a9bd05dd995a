"""The one-way dependency rule of the package (``tools/check_layers.py``) holds, and
the check catches each kind of violation when one is planted in a copy."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_layers", ROOT / "tools" / "check_layers.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_layers = _checker()


def test_the_package_keeps_the_rule() -> None:
    assert check_layers.violations(ROOT / "sa_sequencing") == []


@pytest.fixture
def package(tmp_path: Path) -> Path:
    copy = tmp_path / "sa_sequencing"
    shutil.copytree(ROOT / "sa_sequencing", copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert check_layers.violations(copy) == []
    return copy


def _plant(package: Path, module: str, code: str) -> None:
    path = package / module
    path.write_text(path.read_text() + "\n" + code + "\n")


@pytest.mark.parametrize(
    ("module", "code", "expected"),
    [
        # an upward import hidden in a function (what once broke the cycles)
        (
            "rules/patterns.py",
            "def _later():\n    from ..service.manager import SequenceManager\n",
            "imports SequenceManager from the upper layer service.manager",
        ),
        # an upward import only for the type checker counts too
        (
            "store/repositories.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from ..allocation.allocator import Allocator\n",
            "imports Allocator from the upper layer allocation.allocator",
        ),
        (
            "orm/flush.py",
            "from ..service.manager import SequenceManager",
            "orm imports its sibling",
        ),
        ("service/base.py", "from ..orm.flush import LISTENERS", "service imports its sibling"),
        (
            "allocation/batch.py",
            "from ..rules.checks import _json_value",
            "imports the private _json_value",
        ),
        (
            "cli/common.py",
            "from ..allocation.allocator import Allocator",
            "uses the internal allocation.allocator.Allocator",
        ),
        ("rules/tokens.py", "from .patterns import Pattern", "import cycle"),
    ],
)
def test_a_planted_violation_is_reported(
    package: Path, module: str, code: str, expected: str
) -> None:
    _plant(package, module, code)
    found = check_layers.violations(package)
    assert any(expected in problem for problem in found), found
