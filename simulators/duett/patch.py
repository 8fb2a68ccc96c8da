"""RFC 6902 JSON Patch, as ASP.NET's JsonPatchDocument applies it to Duett's models.

All six operations work on a copy of the entity as the API shows it; property names match
case-insensitively, list indexes and `-` (append) work. The caller validates the result like a
PUT, so a patch can never leave an entity a PUT could not produce. A failing `test` is a 400:
it is how a client guards a change with the rowVersion it last read.
"""

from __future__ import annotations

import copy
from typing import Any

from simulators.duett.problems import bad_request, invalid

OPS = ("add", "remove", "replace", "move", "copy", "test")
_MISSING = object()


def apply_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    result = copy.deepcopy(doc)
    for op in ops:
        name = str(op.get("op", "")).lower()
        if name not in OPS:
            raise bad_request(f"The JSON Patch operation '{op.get('op')}' is not supported.")
        path = _path(op, "path")
        if name in ("add", "replace", "test") and "value" not in op:
            raise bad_request(f"The JSON Patch operation '{name}' requires a value.")
        if name == "test":
            current = _get(result, path)
            if current is _MISSING or not _equal(current, op["value"]):
                raise bad_request(
                    f"The current value at '{path}' is not equal to the test value {op['value']!r}."
                )
        elif name == "remove":
            _remove(result, path)
        elif name == "replace":
            _remove(result, path)
            _add(result, path, copy.deepcopy(op["value"]))
        elif name == "add":
            _add(result, path, copy.deepcopy(op["value"]))
        else:
            source = _path(op, "from")
            value = _get(result, source)
            if value is _MISSING:
                raise bad_request(f"The path '{source}' does not exist.")
            if name == "move":
                _remove(result, source)
            _add(result, path, copy.deepcopy(value))
    return result


def patch_entity(
    entity: dict[str, Any], ops: list[dict[str, Any]], read_only: tuple[str, ...] | frozenset[str]
) -> dict[str, Any]:
    """The entity with the JSON Patch applied; a change to a read-only field is refused."""
    patched = apply_patch(entity, ops)
    for name in read_only:
        if patched.get(name) != entity[name]:
            raise invalid(name, f"{name} is read-only.")
    return patched


def _path(op: dict[str, Any], key: str) -> str:
    path = op.get(key)
    if not isinstance(path, str) or not path.startswith("/"):
        raise bad_request(f"The JSON Patch '{key}' must be a JSON Pointer such as '/status'.")
    return path


def _tokens(path: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _key(container: dict[str, Any], token: str) -> str:
    return next((k for k in container if k.lower() == token.lower()), token)


def _get(doc: Any, path: str) -> Any:
    return _walk(doc, _tokens(path))


def _walk(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for token in tokens:
        if isinstance(node, dict):
            node = node.get(_key(node, token), _MISSING)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return _MISSING
    return node


def _parent(doc: Any, path: str) -> tuple[Any, str]:
    *head, last = _tokens(path)
    parent = _walk(doc, head)
    if not isinstance(parent, dict | list):
        raise bad_request(f"The path '{path}' does not exist.")
    return parent, last


def _add(doc: Any, path: str, value: Any) -> None:
    parent, token = _parent(doc, path)
    if isinstance(parent, dict):
        parent[_key(parent, token)] = value
    elif token == "-":
        parent.append(value)
    elif token.isdigit() and int(token) <= len(parent):
        parent.insert(int(token), value)
    else:
        raise bad_request(f"The index in '{path}' is out of range.")


def _remove(doc: Any, path: str) -> None:
    parent, token = _parent(doc, path)
    if isinstance(parent, dict) and _key(parent, token) in parent:
        del parent[_key(parent, token)]
    elif isinstance(parent, list) and token.isdigit() and int(token) < len(parent):
        del parent[int(token)]
    else:
        raise bad_request(f"The path '{path}' does not exist.")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)
