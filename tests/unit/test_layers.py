"""The import rule: `schemas` ← `connectors` ← `core` ← `tasks` ← `workers`, each importing only
what stands to its left; `simulators/` an island that imports none of them, and that only the
CLI's `simulate`/`demo` (plus tests and benchmarks) import.

Walks every module's imports with `ast` (imports under `if TYPE_CHECKING:` excepted)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["schemas", "connectors", "core", "tasks", "workers"]
ISLAND = "simulators"
# Entry points allowed to start a simulator: `orderbridge simulate` and `orderbridge demo`.
SIMULATOR_USERS = {"workers/cli.py", "workers/demo.py"}


def imported_packages(source: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every import outside `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def violations(package: str, relative: str, source: str) -> list[str]:
    """Every import in `source` (a module of `package`) that goes against the rule."""
    bad = []
    for line, target in imported_packages(source):
        if target not in LAYERS and target != ISLAND:
            continue  # the standard library and third-party packages
        if package == ISLAND:
            ok = target == ISLAND
        elif target == ISLAND:
            ok = relative in SIMULATOR_USERS
        else:
            ok = LAYERS.index(target) <= LAYERS.index(package)
        if not ok:
            bad.append(f"{relative}:{line}: {package} imports {target}")
    return bad


def project_modules() -> list[tuple[str, str, Path]]:
    return [
        (package, str(path.relative_to(ROOT)), path)
        for package in [*LAYERS, ISLAND]
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


def test_every_import_follows_the_layers() -> None:
    modules = project_modules()
    assert len(modules) > 60, "the walk found the project's modules"
    bad = [
        v
        for package, rel, path in modules
        for v in violations(package, rel, path.read_text(encoding="utf-8"))
    ]
    assert bad == []


@pytest.mark.parametrize(
    ("package", "source"),
    [
        ("core", "from tasks.runner import run_step\n"),
        ("connectors", "import core.store\n"),
        ("schemas", "from connectors.base import Connector\n"),
        ("tasks", "from workers.cli import main\n"),
        ("simulators", "from schemas.order import Order\n"),
        ("tasks", "from simulators.registry import SIMULATORS\n"),
    ],
)
def test_an_arrow_against_the_rule_is_caught(package: str, source: str) -> None:
    assert violations(package, f"{package}/x.py", source) != []


@pytest.mark.parametrize(
    ("package", "source"),
    [
        ("tasks", "from core.store import Store\nfrom schemas.job import Job\n"),
        ("workers", "from tasks import runner\n"),
        ("core", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tasks import x\n"),
        ("simulators", "from simulators.admin import SimApp\nimport httpx\n"),
    ],
)
def test_arrows_with_the_rule_pass(package: str, source: str) -> None:
    assert violations(package, f"{package}/x.py", source) == []
