"""Every Redis key family is declared once (`core.keyspace.Family`, beside the code that owns
it), and no product code spells a key by hand."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from core.keyspace import PREFIX, Family

ROOT = Path(__file__).resolve().parents[2]
OWNERS = ("core.store", "core.admission", "core.metrics_store", "tasks.backfill_progress")


def declared() -> list[tuple[str, Family]]:
    """(owner, family) of every family object, each once (owners import each other's)."""
    found: dict[int, tuple[str, Family]] = {}
    for owner in OWNERS:
        module = importlib.import_module(owner)
        for value in vars(module).values():
            if isinstance(value, Family):
                found.setdefault(id(value), (owner, value))
    return list(found.values())


def test_each_family_is_declared_once_and_says_what_it_holds() -> None:
    families = declared()
    names = [family.name for _, family in families]
    assert len(names) >= 25 and len(names) == len(set(names)), sorted(names)
    assert all(family.holds for _, family in families)
    assert Family("job", "x").key("j1") == f"{PREFIX}:job:j1"


def test_no_product_code_spells_a_key_by_hand() -> None:
    spelled = []
    for package in ("schemas", "connectors", "core", "tasks", "workers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and node.value.startswith(f"{PREFIX}:")
                ):
                    spelled.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert spelled == []
