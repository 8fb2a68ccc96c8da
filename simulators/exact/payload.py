"""Request bodies as Exact Online's WCF layer reads them.

A body must be one JSON object of the entity's type. Property names are case-sensitive; one the
type lacks is refused (when `reject_unknown_fields`); a value that does not convert to the
property's type is refused; server-set properties are accepted and ignored. Child lines go in the
same body as a JSON array: an object there is the famous "request stream" 400.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from simulators.exact.errors import REQUEST_STREAM, ApiError, text_error
from simulators.exact.schema import CLR_TYPES, LINE_SETS, EntitySet, Prop
from simulators.exact.values import exact_date, guid, parse_date

_METADATA_KEYS = ("__metadata", "__deferred")


async def read_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise text_error(400, REQUEST_STREAM) from None
    if not isinstance(body, dict):
        raise text_error(400, REQUEST_STREAM)
    return body


def entity_values(
    body: dict[str, Any], entity_set: EntitySet, strict: bool, with_lines: bool = True
) -> dict[str, Any]:
    """The writable properties of `body`, converted; lines (if the set has them) as a list of
    converted line dicts under the navigation property's name."""
    values: dict[str, Any] = {}
    for name, raw in body.items():
        if name in _METADATA_KEYS:
            continue
        if entity_set.lines is not None and name == entity_set.lines:
            if with_lines:
                values[name] = _lines(raw, LINE_SETS[entity_set.path], strict)
            continue
        prop = entity_set.props.get(name)
        if prop is None:
            if strict:
                raise text_error(
                    400,
                    f"Error processing request stream. The property name "
                    f"'{name}' specified for type '{qualified(entity_set)}' "
                    f"is not valid.",
                )
            continue
        value = convert(name, raw, prop)
        if not prop.read_only:
            values[name] = value
    return values


def qualified(entity_set: EntitySet) -> str:
    return f"Exact.Web.Api.Models.{entity_set.type_name}"


def _lines(raw: Any, line_set: EntitySet, strict: bool) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(line, dict) for line in raw):
        raise text_error(400, REQUEST_STREAM)
    return [entity_values(line, line_set, strict) for line in raw]


def convert(name: str, raw: Any, prop: Prop) -> Any:
    """`raw` as a value of the property's kind; the WCF conversion error if it is not one."""
    if raw is None:
        return None
    value = _converted(raw, prop.kind)
    if value is None:
        raise _conversion_error(name, prop.kind)
    return value


def _converted(raw: Any, kind: str) -> Any:
    if kind == "str":
        return raw if isinstance(raw, str) else None
    if kind == "bool":
        return raw if isinstance(raw, bool) else None
    if kind == "guid":
        return guid(raw) if isinstance(raw, str) else None
    if kind == "date":
        parsed = parse_date(raw) if isinstance(raw, str) else None
        return exact_date(parsed) if parsed else None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        return None
    try:
        number = float(raw)
    except ValueError:
        return None
    if kind == "int":
        return int(number) if number.is_integer() else None
    return int(number) if number.is_integer() and not isinstance(raw, float) else number


def _conversion_error(name: str, kind: str) -> ApiError:
    return text_error(
        400,
        f"Error processing request stream. Error encountered in converting "
        f"the value from request payload for property '{name}' to type "
        f"'{CLR_TYPES[kind]}', which is the property's type. Make sure the "
        f"payload is convertible to the expected type.",
    )
