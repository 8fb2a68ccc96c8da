"""Invoices read back from Sapera: booked invoices and credit notes as `InvoiceSnapshot`s, and
the cursor that makes polling them gap-free.

What Sapera can say. Its UI lists each invoice with its status, "Remaining amount" (what is not
yet paid or settled), customer reference and sales orders (support article 72), credits a posted
invoice (article 325) and its own WooCommerce connector tracks "Invoice posted" and "Payment
registered" (article 542). Its API documents none of that for invoices: the invoice page
(`GetInvoicesPage`, by analogy with the documented sales-order page), its `updatedAt` filter
and the field names (`isBooked`, `remainingAmount`, `salesOrderId`/`salesOrderNumber`,
`isCreditNote`, `creditedInvoiceNumber`, `currencyCode`) are our guesses, kept in settings
where they matter.

What it can't say, and what we poll instead. There is no event or webhook for a payment and no
documented "balance changed since" filter, and whether a payment moves an invoice's `updatedAt`
is unknown. So each poll reads:
1. the invoices changed since the cursor (`updatedAt` from it, open-ended: while we page the
   set only grows, so offset paging never skips one). The next cursor is the newest `updatedAt`
   seen - Sapera's clock, not ours - less an overlap, and never earlier than the last one;
2. every `payment_sweep_minutes`, every invoice created in the last `payment_sweep_days`,
   whatever its `updatedAt`: a payment that leaves `updatedAt` alone is seen within that time.
Only booked invoices are reported (a draft has gone to nobody). An invoice read without a
remaining amount reports its total as the balance: invoices and credit notes are then told,
payments never. A credit note (a negative invoice) is reported with positive amounts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.base import InvoicePage, InvoiceSnapshot
from connectors.sapera.envelope import wrap
from connectors.sapera.mapping import cents
from connectors.sapera.settings import SaperaSettings
from connectors.values import decimal_or_none
from connectors.watch import parse_stamp

Rows = list[dict[str, Any]]
Pager = Callable[[dict[str, Any]], Rows]  # a GetInvoicesPage query -> every entry


def invoices_since(page: Pager, settings: SaperaSettings, cursor: Mapping[str, str]) -> InvoicePage:
    now = datetime.now(UTC)
    start = _moment(cursor.get("updated_from")) or now - timedelta(
        days=settings.invoice_lookback_days
    )
    rows = page({"updatedAt": wrap({"from": start.isoformat(), "to": None})})
    found = {str(row["id"]): row for row in rows}
    newest = max((t for t in (_moment(row.get("updatedAt")) for row in rows) if t), default=None)
    overlap = timedelta(seconds=settings.invoice_overlap_seconds)
    next_from = max(start, newest - overlap) if newest else start
    next_cursor = {"updated_from": next_from.isoformat()}
    swept = _moment(cursor.get("swept_at"))
    if _sweep_due(settings, swept, now):
        since = now - timedelta(days=settings.payment_sweep_days)
        found.update(
            (str(row["id"]), row)
            for row in page({"createdAt": wrap({"from": since.isoformat(), "to": None})})
        )
        swept = now
    if swept is not None:
        next_cursor["swept_at"] = swept.isoformat()
    snapshots = [snapshot(row, settings) for row in found.values() if row.get("isBooked")]
    return InvoicePage(snapshots, next_cursor)


def snapshot(row: dict[str, Any], settings: SaperaSettings) -> InvoiceSnapshot:
    total = decimal_or_none(row.get("total")) or Decimal(0)
    remaining = decimal_or_none(row.get(settings.remaining_amount_field))
    credit = total < 0 or row.get("isCreditNote") is True
    sign = -1 if credit else 1
    order_id, order_number = row.get("salesOrderId"), row.get("salesOrderNumber")
    reference = row.get(settings.customer_reference_field, row.get("customerReference"))
    credited = row.get("creditedInvoiceNumber")
    return InvoiceSnapshot(
        id=str(row["id"]),
        number=str(row["number"]),
        kind="credit_note" if credit else "invoice",
        total=cents(sign * total),
        balance=cents(max(sign * (total if remaining is None else remaining), Decimal(0))),
        currency=str(row.get("currencyCode") or settings.currency),
        order_id=f"{order_id}:{order_number}"
        if order_id is not None and order_number is not None
        else None,
        reference=reference if isinstance(reference, str) else None,
        credited_invoice=None if credited is None else str(credited),
        changed_at=_moment(row.get("updatedAt")),
    )


def _sweep_due(settings: SaperaSettings, swept: datetime | None, now: datetime) -> bool:
    every = settings.payment_sweep_minutes
    if every is None:
        return False
    return swept is None or now - swept >= timedelta(minutes=every)


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_stamp(value)
    except ValueError:
        return None  # an unreadable cursor is a first poll: earlier, never later
