"""Request bodies as Duett's ASP.NET binder reads them.

Property names match case-insensitively, numbers may come quoted (the web defaults of
System.Text.Json), enums are camelCase strings matched case-insensitively, unknown properties
are dropped, and a value of the wrong type is a 400 naming its JSON path.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request

from simulators.duett.problems import ApiError, bad_request, invalid

PATCH_MEDIA_TYPE = "application/json-patch+json"
_DOTNET = {
    "str": "System.String",
    "int": "System.Int32",
    "num": "System.Decimal",
    "bool": "System.Boolean",
    "date": "System.DateTime",
    "dict": "System.Object",
    "list": "System.Collections.Generic.List",
}

Schema = dict[str, str]  # property -> kind: str, int, num, bool, date, dict, list, any


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise bad_request("A non-empty request body is required.")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise bad_request(f"The request body is not valid JSON: {exc.msg}.") from None


async def read_object(request: Request) -> dict[str, Any]:
    media = _media_type(request)
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(415, "Content-Type must be application/json.")
    body = await _json(request)
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


async def read_patch(request: Request) -> list[dict[str, Any]]:
    if _media_type(request) != PATCH_MEDIA_TYPE:
        raise ApiError(415, f"PATCH requires Content-Type: {PATCH_MEDIA_TYPE} (JSON Patch).")
    ops = await _json(request)
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise bad_request("The request body must be a JSON Patch document (an array).")
    return ops


def pick(body: dict[str, Any], schema: Schema, path: str = "") -> dict[str, Any]:
    """The known properties of `body` under their canonical names, values converted."""
    by_lower = {name.lower(): name for name in schema}
    picked: dict[str, Any] = {}
    for key, value in body.items():
        name = by_lower.get(key.lower())
        if name is not None:
            picked[name] = convert(f"{path}{name}", value, schema[name])
    return picked


def convert(field: str, value: Any, kind: str) -> Any:
    """`value` as `kind` (None stays None); a 400 naming `field` when it cannot be."""
    if value is None or kind == "any":
        return value
    result = _converted(value, kind)
    if result is None:
        raise invalid(
            field, f"The JSON value could not be converted to {_DOTNET[kind]}. Path: $.{field}"
        )
    return result


def _converted(value: Any, kind: str) -> Any:
    if kind in ("int", "num"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return None
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        if not number.is_finite():
            return None
        if kind == "int":
            return int(number) if number == number.to_integral_value() else None
        return number
    if kind == "date":
        return normal_date(value) if isinstance(value, str) else None
    types: dict[str, type | tuple[type, ...]] = {
        "str": str,
        "bool": bool,
        "dict": dict,
        "list": list,
    }
    return value if isinstance(value, types[kind]) else None


def normal_date(text: str) -> str | None:
    """`YYYY-MM-DDT00:00:00`, Duett's shape of a date-only field, or None if no date."""
    try:
        day = date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None
    return f"{day.isoformat()}T00:00:00"


def required(fields: dict[str, Any], name: str, path: str = "") -> Any:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise invalid(f"{path}{name}", f"The {path}{name} field is required.")
    return value


def choice(field: str, value: Any, allowed: tuple[str, ...]) -> str | None:
    """An enum value in its canonical spelling; case does not matter (as for .NET enums)."""
    if value is None:
        return None
    found = next(
        (a for a in allowed if isinstance(value, str) and a.lower() == value.lower()), None
    )
    if found is None:
        raise invalid(
            field,
            f"The value '{value}' is not valid for {field}; use one of: {', '.join(allowed)}.",
        )
    return found
