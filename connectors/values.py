"""Small conversions of values read from ERP answers, in one place for every connector.

ERP JSON is loosely typed: ids arrive as numbers or strings, amounts as numbers or strings, and
anything may be null. These turn such a value into what our code compares and stores.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def text_or_none(value: Any) -> str | None:
    """The value as text (an id given as a number becomes its digits); None stays None."""
    return None if value is None else str(value)


def decimal_or_none(value: Any) -> Decimal | None:
    """An amount as a Decimal, through its text (so 0.1 stays 0.1); None, or a boolean (which
    is no amount), gives None. Anything else unreadable raises `decimal.InvalidOperation`."""
    return None if value is None or isinstance(value, bool) else Decimal(str(value))
