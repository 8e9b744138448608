"""Which package may import which: the README's parts table, enforced on the source.

A REST reader that imported the proxy (or the hub) would drag its code into
every API process and tie two parts that scale separately; what both need
belongs in fleetcore. The allowed imports are written once, in the third
column of the table under "The parts" in README.md, and checked here on
every module (lazy imports inside functions included), so a new import
between the parts fails before anyone deploys it.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _parts_table() -> dict[str, set[str]]:
    """Package → the project's packages it may import, from README.md's parts table."""
    section = (ROOT / "README.md").read_text().split("## The parts", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `(\w+)/` \|.*\|(.*)\|$", section, re.MULTILINE)
    names = {package for package, _ in rows}
    return {package: set(re.findall(r"`(\w+)`", imports)) & names for package, imports in rows}


PARTS = _parts_table()
SHIPPED = sorted(
    pattern.rstrip("*")
    for pattern in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
)
"""The Python packages the project ships (pyproject.toml)."""


def _imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_the_parts_table_names_every_package_the_project_ships() -> None:
    python_parts = sorted(name for name in PARTS if (ROOT / name / "__init__.py").exists())
    assert python_parts == SHIPPED


@pytest.mark.parametrize("package", SHIPPED)
def test_a_package_imports_only_the_parts_the_table_allows_it(package: str) -> None:
    forbidden = set(PARTS) - PARTS[package] - {package}
    offending = {
        str(path.relative_to(ROOT)): sorted(_imported(path) & forbidden)
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {path: parts for path, parts in offending.items() if parts} == {}


PURE_PACKAGES = ("hub/derive",)
"""Packages of pure code: their inputs (the clock included) in, results out, so they replay
and test without a database; what does I/O around them lives beside them (``hub/derive_stage.py``)."""

IO_MODULES = {"asyncio", "aiohttp", "tortoise", "redis", "fleetcore.store", "fleetcore.bus"}
"""Imports that mean a module does I/O (or schedules it)."""


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_a_pure_package_imports_nothing_that_does_io(package: str) -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in _imported_modules(path)
            if any(name == io or name.startswith(io + ".") for io in IO_MODULES)
        )
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {path: names for path, names in offending.items() if names} == {}
