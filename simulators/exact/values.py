"""Exact Online's value formats: `/Date(ms)/` dates out, ISO 8601 in, lowercase GUIDs, amounts
as JSON numbers rounded to cents."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID, uuid4

_EXACT_DATE = re.compile(r"^/Date\((-?\d+)\)/$")
CENT = Decimal("0.01")


def new_guid() -> str:
    return str(uuid4())


def guid(text: str) -> str | None:
    """The canonical lowercase form of a GUID, or None when `text` is not one."""
    try:
        return str(UUID(text.strip().strip("{}")))
    except (ValueError, AttributeError):
        return None


def exact_date(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"/Date({int(moment.timestamp() * 1000)})/"


def now_date() -> str:
    return exact_date(datetime.now(UTC))


def parse_date(text: str) -> datetime | None:
    """`/Date(ms)/` or ISO 8601 (a date, or a date-time, with or without zone) as UTC; None if
    neither."""
    found = _EXACT_DATE.match(text.strip())
    if found:
        return datetime.fromtimestamp(int(found[1]) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def decimal(value: Any, default: str = "0") -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(default)


def money(value: Decimal) -> float:
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def number(value: Decimal) -> float | int:
    """A JSON number without a needless fraction: 2 rather than 2.0."""
    return int(value) if value == value.to_integral_value() else float(value)
