"""The sales journal that invoices and sales entries book into, and its number sequence."""

from __future__ import annotations

from datetime import UTC, datetime

from simulators.exact.context import Ctx, Row
from simulators.exact.errors import ApiError
from simulators.exact.store import SALES_JOURNAL_TYPE
from simulators.exact.values import parse_date


def sales_journal(ctx: Ctx, code: str) -> Row:
    """The journal with this code; it must exist and be a sales journal."""
    journal = ctx.store.journal(code)
    if journal is None:
        raise ApiError(ctx.options.bad_reference_status, ("reference", "Journals"))
    if journal["Type"] != SALES_JOURNAL_TYPE:
        raise ApiError(400, ("not_sales_journal", code))
    return journal


def journal_number(ctx: Ctx, journal_code: str, booked: str | None) -> int:
    """The next number of a sales journal in the booking's year, e.g. 26700001: year, journal,
    sequence. Invoices and sales entries share it, as they book into the same journal."""
    year = (parse_date(booked or "") or datetime.now(UTC)).year
    sequence = ctx.store.next_number(f"journal:{journal_code}:{year}")
    return int(f"{year % 100:02d}{journal_code}{sequence:04d}")
