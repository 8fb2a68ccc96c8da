"""Every Lua script says its KEYS and ARGV in the comment above it (issue 18: a reader of a
script should not have to find its caller to learn what KEYS[4] is)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def scripts() -> list[tuple[str, str, str, str]]:
    """(file, name, comment above, script) of every module-level string holding `redis.call`."""
    found = []
    for path in sorted(ROOT.glob("[a-z]*/**/*.py")):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.parse(source).body:
            if not (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
                and "redis.call" in node.value.value
            ):
                continue
            comment = []
            row = node.lineno - 2
            while row >= 0 and lines[row].startswith("#"):
                comment.insert(0, lines[row])
                row -= 1
            name = ast.unparse(node.targets[0])
            found.append((str(path.relative_to(ROOT)), name, "\n".join(comment), node.value.value))
    return found


def test_every_lua_script_names_its_keys_and_arguments() -> None:
    found = scripts()
    assert len(found) >= 15, "the scan found too few scripts to prove anything"
    undocumented = [
        f"{file}:{name}"
        for file, name, comment, script in found
        if ("KEYS[" in script and "KEYS" not in comment)
        or ("ARGV[" in script and "ARGV" not in comment)
    ]
    assert undocumented == []
