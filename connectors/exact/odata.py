"""OData v2 as Exact speaks it: quoting, `or` chains, envelopes and dates.

A reference such as `O'Neil' or 1 eq 1` must match only itself, so every literal goes through
`quote()` (an embedded quote is doubled), never through string formatting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def eq(field: str, value: str) -> str:
    return f"{field} eq {quote(value)}"


def any_of(field: str, values: Iterable[str]) -> str:
    """`(F eq 'a' or F eq 'b')`, bracketed so that an `and` may follow."""
    return "(" + " or ".join(eq(field, v) for v in values) + ")"


def any_number(field: str, values: Iterable[int]) -> str:
    """`(F eq 1 or F eq 2)` for integer fields such as InvoiceNumber."""
    return "(" + " or ".join(f"{field} eq {int(v)}" for v in values) + ")"


def guid_eq(field: str, value: str) -> str:
    """`F eq guid'…'`; ValueError when `value` is not a GUID (so nothing else gets in)."""
    return f"{field} eq guid'{UUID(value)}'"


def modified_since(moment: datetime) -> str:
    """`Modified ge datetime'…'`: inclusive, so a change stamped at `moment` is seen again."""
    return f"Modified ge datetime'{format_date(moment)}'"


def format_date(moment: datetime) -> str:
    """The wall-clock form Exact's `datetime'…'` literal takes (milliseconds, no zone): the
    same clock its `/Date(ms)/` values read on, so a stamp read back filters as itself."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def page(response: httpx.Response) -> tuple[list[dict[str, Any]], str | None]:
    """The rows of a list answer `{"d": {"results": [...], "__next": ...}}` (or the older
    `{"d": [...]}`) and its next-page link, the body parsed once."""
    body = response.json().get("d", {})
    if isinstance(body, dict):
        return list(body.get("results", [])), body.get("__next")
    return list(body), None


def results(response: httpx.Response) -> list[dict[str, Any]]:
    """The rows of a list answer (see `page`)."""
    return page(response)[0]


def entity(response: httpx.Response) -> dict[str, Any]:
    """The object of a keyed GET or a POST answer `{"d": {...}}`."""
    return dict(response.json()["d"])


_DATE = re.compile(r"/Date\((-?\d+)\)/")


def parse_date(value: str | None) -> datetime | None:
    match = _DATE.fullmatch(value or "")
    if not match:
        return None
    return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)
