"""The filters that Sapera's `Get...Page` queries share: date ranges and number ranges.

`createdAt` / `updatedAt` are `{"value": {"from", "to"}}` with ISO date-times, both ends
inclusive and either may be null (documented for sales orders; the invoice page is assumed to
take the same); `numericIdentifier` is the same shape on the document number. One module, so the
sales-order page and the invoice page cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from simulators.sapera.envelope import validation
from simulators.sapera.fields import Body

Row = dict[str, Any]
Test = Callable[[Row], bool]


def date_tests(body: Body) -> list[Test]:
    tests: list[Test] = []
    for name in ("createdAt", "updatedAt"):
        bounds = body.child(name, wrapped=True)
        if bounds is None:
            continue
        tests.append(_between(name, _moment(bounds, "from"), _moment(bounds, "to")))
    return tests


def _between(name: str, low: datetime | None, high: datetime | None) -> Test:
    def test(row: Row) -> bool:
        moment = parse(row[name])
        return (low is None or moment >= low) and (high is None or moment <= high)

    return test


def number_test(body: Body) -> list[Test]:
    bounds = body.child("numericIdentifier", wrapped=True)
    if bounds is None:
        return []
    low, high = bounds.integer("from"), bounds.integer("to")
    return [
        lambda row: (
            (low is None or row["number"] >= low) and (high is None or row["number"] <= high)
        )
    ]


def parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _moment(bounds: Body, name: str) -> datetime | None:
    text = bounds.text(name)
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError:
        raise validation(f"{bounds.where}{name} '{text}' is not an ISO date-time.") from None
