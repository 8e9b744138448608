"""The parts depend on the shared library, never on each other (ARCHITECTURE.md, "Shape").

A REST reader that imported the proxy (or the hub) would drag its code into
every API process and tie two parts that scale separately; what both need
belongs in fleetcore. Checked on the source, so a new import fails here
before anyone deploys it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("hub", "proxy", "rest_api", "ros_bridge", "simulator", "fleethub")
ALLOWED: dict[str, set[str]] = {"fleetcore": set(), "rest_api": {"rest_api"}}


def _imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_no_other_part(package: str) -> None:
    forbidden = set(PARTS) - ALLOWED[package]
    offending = {
        str(path.relative_to(ROOT)): sorted(_imported_packages(path) & forbidden)
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {path: parts for path, parts in offending.items() if parts} == {}
