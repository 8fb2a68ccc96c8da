"""Request bodies: field types and RFC 6902 JSON Patch, as PowerOffice Go's ASP.NET binder
treats them.

Unknown and read-only keys in a POST body are ignored (the binder drops them); a value of the
wrong type is a 400. PATCH takes a JSON Patch document only, over the writable fields, one
nested level deep (`/MailAddress/City`).
"""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

from starlette.requests import Request

from simulators.poweroffice.problems import ApiError, validation

PATCH_MEDIA_TYPE = "application/json-patch+json"
_PATCH_OPS = ("add", "replace", "remove")
_DOTNET_TYPES = {
    "str": "System.String",
    "int": "System.Int64",
    "num": "System.Decimal",
    "bool": "System.Boolean",
    "date": "System.DateTime",
    "dict": "System.Object",
    "list": "System.Collections.Generic.List",
}


PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "num": (int, float),
    "bool": bool,
    "dict": dict,
    "list": list,
}


def _is_kind(value: Any, kind: str) -> bool:
    if value is None:
        return True
    if kind == "date":
        return isinstance(value, str) and _is_date(value)
    python_type = PYTHON_TYPES[kind]
    return isinstance(value, python_type) and (kind == "bool" or not isinstance(value, bool))


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


def check_types(entity: str, body: dict[str, Any], schema: dict[str, str]) -> None:
    for name, kind in schema.items():
        if not _is_kind(body.get(name), kind):
            raise validation(
                entity,
                f"The JSON value could not be converted to {_DOTNET_TYPES[kind]}. Path: $.{name}",
            )


def writable(body: dict[str, Any], schema: dict[str, str]) -> dict[str, Any]:
    """The known writable fields of a body, by their canonical names (the binder ignores case)."""
    by_lower = {name.lower(): name for name in schema}
    return {by_lower[key.lower()]: value for key, value in body.items() if key.lower() in by_lower}


async def read_body(request: Request, entity: str) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise validation(entity, f"The request body is not valid JSON: {exc.msg}.") from None


async def read_object(request: Request, entity: str) -> dict[str, Any]:
    body = await read_body(request, entity)
    if not isinstance(body, dict):
        raise validation(entity, "A non-empty request body (a JSON object) is required.")
    return body


async def read_patch(request: Request, entity: str) -> list[dict[str, Any]]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != PATCH_MEDIA_TYPE:
        raise ApiError(
            415,
            "Unsupported Media Type",
            f"PATCH requires Content-Type: {PATCH_MEDIA_TYPE} (RFC 6902 JSON Patch).",
        )
    ops = await read_body(request, entity)
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise validation(entity, "The request body must be a JSON Patch document (an array).")
    return ops


def apply_patch(
    entity: str,
    doc: dict[str, Any],
    ops: list[dict[str, Any]],
    schema: dict[str, str],
    nested: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A patched copy of `doc`; only `schema` fields (and `nested` sub-fields) may be touched."""
    result = copy.deepcopy(doc)
    for op in ops:
        name, value = op.get("op"), op.get("value")
        if name not in _PATCH_OPS:
            raise validation(entity, f"The JSON Patch operation '{name}' is not supported.")
        if name != "remove" and "value" not in op:
            raise validation(entity, f"The JSON Patch operation '{name}' requires a value.")
        target, key = _target(entity, result, str(op.get("path", "")), schema, nested or {})
        target[key] = None if name == "remove" else value
    check_types(entity, result, schema)
    for parent, sub_schema in (nested or {}).items():
        if isinstance(result.get(parent), dict):
            check_types(entity, result[parent], sub_schema)
    return result


def _target(
    entity: str,
    doc: dict[str, Any],
    path: str,
    schema: dict[str, str],
    nested: dict[str, dict[str, str]],
) -> tuple[dict[str, Any], str]:
    parts = path.strip("/").split("/") if path.strip("/") else []
    top = _canonical(schema, parts[0]) if parts else None
    if top is None or len(parts) > 2:
        raise validation(entity, f"The path '{path}' can not be patched.")
    if len(parts) == 1:
        return doc, top
    sub = _canonical(nested.get(top, {}), parts[1])
    if sub is None:
        raise validation(entity, f"The path '{path}' can not be patched.")
    if not isinstance(doc.get(top), dict):
        doc[top] = {}
    return doc[top], sub


def _canonical(schema: dict[str, str], name: str) -> str | None:
    return next((key for key in schema if key.lower() == name.lower()), None)
