"""OData v2 as Exact speaks it: quoting, `or` chains, envelopes and dates.

A reference such as `O'Neil' or 1 eq 1` must match only itself, so every literal goes through
`quote()` (an embedded quote is doubled), never through string formatting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def eq(field: str, value: str) -> str:
    return f"{field} eq {quote(value)}"


def any_of(field: str, values: Iterable[str]) -> str:
    """`(F eq 'a' or F eq 'b')`, bracketed so that an `and` may follow."""
    return "(" + " or ".join(eq(field, v) for v in values) + ")"


def results(response: httpx.Response) -> list[dict[str, Any]]:
    """The rows of a list answer `{"d": {"results": [...]}}` (or the older `{"d": [...]}`)."""
    body = response.json().get("d", {})
    return list(body.get("results", []) if isinstance(body, dict) else body)


def next_link(response: httpx.Response) -> str | None:
    body = response.json().get("d", {})
    return body.get("__next") if isinstance(body, dict) else None


def entity(response: httpx.Response) -> dict[str, Any]:
    """The object of a keyed GET or a POST answer `{"d": {...}}`."""
    return dict(response.json()["d"])


_DATE = re.compile(r"/Date\((-?\d+)\)/")


def parse_date(value: str | None) -> datetime | None:
    match = _DATE.fullmatch(value or "")
    if not match:
        return None
    return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)
