"""Query parameters and list answers, the way every PowerOffice Go list endpoint treats them.

Parameter names are matched case-insensitively (ASP.NET model binding does); lists are bare JSON
arrays or 204 with an empty body; paging is `PageNumber`/`PageSize` with an `X-Pagination` header;
OData parameters are refused, which is a trap for clients written against other APIs.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode
from uuid import UUID

from starlette.datastructures import URL
from starlette.responses import Response

from simulators.poweroffice.problems import cast_error, invalid_resource, json_response

DEFAULT_PAGE_SIZE = 5000
MAX_PAGE_SIZE = 20000
_RANGE_PART = re.compile(r"^\s*(\d+)?\s*(-)?\s*(\d+)?\s*$")
_FRACTION = re.compile(r"(\.\d{6})\d+")
_LOST_PLUS = re.compile(r" (\d{2}:?\d{2})$")


class Query:
    """Case-insensitive view of the query string with the parsers the filters need.

    `open_start_ranges`: whether a range may leave out its start ("-7" = up to 7). The spec
    only shows open ends ("13000-"); the open start is unconfirmed, so it is an option."""

    def __init__(self, items: list[tuple[str, str]], open_start_ranges: bool = True) -> None:
        self._values = {key.lower(): value for key, value in items}
        self._open_start = open_start_ranges

    def get(self, name: str) -> str | None:
        value = self._values.get(name.lower())
        return value if value not in (None, "") else None

    def odata_keys(self) -> list[str]:
        return [key for key in self._values if key.startswith("$")]

    def strings(self, name: str) -> list[str] | None:
        raw = self.get(name)
        return None if raw is None else [part.strip() for part in raw.split(",") if part.strip()]

    def ranges(self, name: str) -> list[tuple[int | None, int | None]] | None:
        """`"10-20, 25, 30-, -5"` as inclusive (low, high) pairs; None means open."""
        parts = self.strings(name)
        return (
            None
            if parts is None
            else [_parse_range(name, part, self._open_start) for part in parts]
        )

    def uuids(self, name: str) -> list[str] | None:
        parts = self.strings(name)
        return None if parts is None else [parse_uuid(part, name) for part in parts]

    def boolean(self, name: str) -> bool | None:
        raw = self.get(name)
        if raw is None:
            return None
        if raw.lower() not in ("true", "false"):
            raise cast_error(f"The value '{raw}' is not valid for {name}.")
        return raw.lower() == "true"

    def integer(self, name: str, default: int) -> int:
        raw = self.get(name)
        try:
            return default if raw is None else int(raw)
        except ValueError:
            raise invalid_resource(f"The value '{raw}' is not valid for {name}.") from None

    def timestamp(self, name: str) -> datetime | None:
        raw = self.get(name)
        return None if raw is None else parse_timestamp(raw, name)

    def day(self, name: str) -> date | None:
        raw = self.get(name)
        return None if raw is None else parse_timestamp(raw, name).date()


def in_ranges(value: int | None, ranges: list[tuple[int | None, int | None]]) -> bool:
    return value is not None and any(
        (low is None or low <= value) and (high is None or value <= high) for low, high in ranges
    )


def parse_uuid(raw: str, name: str) -> str:
    try:
        return str(UUID(raw))
    except ValueError:
        raise cast_error(f"The value '{raw}' is not a valid Guid ({name}).") from None


def parse_timestamp(raw: str, name: str = "value") -> datetime:
    """ISO 8601 with up to 7 fractional digits; no zone means UTC."""
    # An unencoded "+" in a query string arrives as a space: "…:58.123 01:00".
    text = _LOST_PLUS.sub(r"+\1", raw.strip()).replace("Z", "+00:00")
    text = _FRACTION.sub(r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise cast_error(f"The value '{raw}' is not a valid date/time ({name}).") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def after(stamp: str | None, cursor: datetime | None) -> bool:
    """`…GreaterThan` filters are exclusive."""
    return cursor is None or (stamp is not None and parse_timestamp(stamp) > cursor)


def list_response(url: URL, query: Query, items: list[dict[str, Any]]) -> Response:
    """One page of `items` as a bare array, or 204 when the page is empty."""
    number = query.integer("PageNumber", 1)
    size = query.integer("PageSize", DEFAULT_PAGE_SIZE)
    if number < 1:
        raise invalid_resource("PageNumber must be 1 or greater.")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise invalid_resource(f"PageSize must be between 1 and {MAX_PAGE_SIZE}.")
    items = _ordered(items, query.get("OrderBy"))
    page = items[(number - 1) * size : number * size]
    if not page:
        return Response(status_code=204)
    page = _selected(page, query.strings("Fields"))
    pages = -(-len(items) // size)
    pagination = {
        "currentPage": number,
        "pageSize": size,
        "totalCount": len(items),
        "totalPages": pages,
        "previousPageLink": _page_link(url, number - 1) if number > 1 else None,
        "nextPageLink": _page_link(url, number + 1) if number < pages else None,
    }
    return json_response(page, headers={"X-Pagination": json.dumps(pagination)})


def _parse_range(name: str, part: str, open_start: bool) -> tuple[int | None, int | None]:
    """ "5" → (5, 5), "5-" → (5, None), "3-9" → (3, 9), "-7" → (None, 7) when allowed."""
    found = _RANGE_PART.match(part)
    if found is None:
        raise cast_error(f"{name} contains an invalid number or range: '{part}'.")
    low, dash, high = (
        int(found[1]) if found[1] else None,
        found[2],
        int(found[3]) if found[3] else None,
    )
    if not dash:
        if low is None or high is not None:
            raise cast_error(f"{name} contains an invalid number or range: '{part}'.")
        return low, low
    if (low is None and high is None) or (low is None and not open_start):
        raise cast_error(f"{name} contains an invalid range: '{part}'.")
    if low is not None and high is not None and high < low:
        raise cast_error(f"{name} contains an invalid range: '{part}'.")
    return low, high


def _ordered(items: list[dict[str, Any]], order_by: str | None) -> list[dict[str, Any]]:
    if not order_by or not items:
        return items
    for clause in reversed([c.strip() for c in order_by.split(",") if c.strip()]):
        name, _, direction = clause.partition(" ")
        key = _field_key(items[0], name)
        if direction.strip().lower() not in ("", "asc", "desc"):
            raise invalid_resource(f"OrderBy direction '{direction}' is not valid.")
        items = sorted(
            items,
            key=lambda item: _sort_key(item.get(key)),
            reverse=direction.strip().lower() == "desc",
        )
    return items


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is None, 0 if value is None else value)


def _selected(page: list[dict[str, Any]], fields: list[str] | None) -> list[dict[str, Any]]:
    if not fields:
        return page
    keys = [_field_key(page[0], name) for name in fields]
    return [{key: item.get(key) for key in keys} for item in page]


def _field_key(sample: dict[str, Any], name: str) -> str:
    for key in sample:
        if key.lower() == name.lower():
            return key
    raise invalid_resource(f"The field '{name}' does not exist on this resource.")


def _page_link(url: URL, number: int) -> str:
    params = [
        (key, value)
        for key, value in parse_qsl(url.query, keep_blank_values=True)
        if key.lower() != "pagenumber"
    ]
    return str(url.replace(query=urlencode([*params, ("PageNumber", str(number))])))
