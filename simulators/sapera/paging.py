"""`Get[Something]Page` requests (erp/sapera.md, "Paging").

Request: `offset`, `count`, `includeOverallEntryCount`, `sortInfo` (an array of
`{"property": int, "sortDirection": int}`) and `propertiesToLoad` (int flags, wrapped or bare;
the docs show both). The value is `{"entries": [...], "overallEntryCount": N}`, the count only
when asked for (null otherwise). What the sort properties' ints mean is unknown, so any is
accepted and rows are sorted by id, ascending for direction 0 and descending for 1. A page
without `count` holds DEFAULT_COUNT entries, so a client that forgets to page misses rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulators.sapera.envelope import validation
from simulators.sapera.fields import Body

DEFAULT_COUNT = 50
SALES_ORDER_ITEMS = 1  # the propertiesToLoad flag that adds a sales order's items

Row = dict[str, Any]


def page(body: Body, rows: list[Row], entry: Callable[[Row], Row]) -> dict[str, Any]:
    offset = body.integer("offset") or 0
    count = body.integer("count")
    count = DEFAULT_COUNT if count is None else count
    if offset < 0 or count < 0:
        raise validation("offset and count must not be negative.")
    ordered = sorted(rows, key=lambda row: row["id"], reverse=_descending(body))
    include = body.flag("includeOverallEntryCount") is True
    return {
        "entries": [entry(row) for row in ordered[offset : offset + count]],
        "overallEntryCount": len(rows) if include else None,
    }


def properties(body: Body) -> int:
    """The `propertiesToLoad` flags (0: basic)."""
    return body.integer("propertiesToLoad") or 0


def _descending(body: Body) -> bool:
    sort = body.children("sortInfo")
    if not sort:
        return False
    direction = sort[0].integer("sortDirection") or 0
    sort[0].integer("property")
    if direction not in (0, 1):
        raise validation("sortInfo[0].sortDirection must be 0 (ascending) or 1 (descending).")
    return direction == 1
