"""What Duett can tell about invoices and their payment, and how `invoices_since` polls it.

Duett has no invoice resource. With direct invoicing an order becomes its own invoice: status
invoiceSent (later invoiceBooked etc.), `invoiceNumber`, `invoiceDate`; a credit note is an
order of type credit (order-v2 page). An order never says whether it is paid: no paid status,
no remaining amount. What is left to pay lives in the customer ledger, which the voucher report
shows: the outgoing invoice's row has `restAmount` (`currencyRestAmount`) and `ledgerState`
blank / partCrossed / crossed (voucher-report page; `filter[voucherYear][EQ]` is required).

Unconfirmed, so settings or safe readings:
- the voucher report's route (`paths.voucher_report`); without it (a list 404 reads as no rows)
  we still report invoices and credit notes, but as unpaid forever;
- which ledger field holds the invoice number (`ledger_invoice_number_field`), and the voucher
  type key's name (we read `voucherTypeId`: 3 outgoing invoice, 4 outgoing credit note, the
  keys of Duett's voucher type register);
- that crossing a payment gives the invoice's row a new rowVersion (Duett documents rowVersion as
  the way to track changed data of every entity).

What we poll: two change feeds by rowVersion, orders (status and invoice fields) and the
customer ledger of this and last voucher year, each `filter[rowVersion][GT]` ascending, one page
at a time. An invoice seen in one feed is completed from the other (orders by invoiceNumber,
ledger rows by number and year), so every snapshot has its amount and its balance; an invoice
without a ledger row yet is unpaid (balance = total). Ledger rows of invoices that no order
explains (made by hand in Duett) are skipped: no job can own them.

The cursor `{"orders": rv, "ledger": rv}`: after a full page, its last rowVersion (call again at
once); otherwise the highest seen less `row_version_overlap`, because a rowversion is taken when
a write starts and a slower write may commit a lower one after we read: overlap, never a gap.
The first poll (empty cursor) reads what was invoiced or posted in the last few days.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.base import InvoicePage, InvoiceSnapshot
from connectors.duett.credit import credited_invoice
from connectors.duett.settings import DuettSettings
from connectors.watch import batches

Lister = Callable[[str, list[tuple[str, str]]], list[dict[str, Any]]]
Row = dict[str, Any]
Key = tuple[int, str]  # (year, invoice number)
INVOICE_TYPES = (3, 4)  # outgoing invoice, outgoing credit note
BY_ROW_VERSION = ("filter[orderby][asc]", "rowVersion")


@dataclass(frozen=True)
class Feed:
    rows: list[Row]
    cursor: str | None  # where the next poll starts; None: nothing seen yet
    more: bool


class InvoiceWatch:
    """One `invoices_since` call over the connector's list GET."""

    def __init__(self, settings: DuettSettings, list_: Lister) -> None:
        self.settings = settings
        self.list = list_
        self.now = datetime.now(UTC)

    def page(self, cursor: Mapping[str, str]) -> InvoicePage:
        orders = self._orders_feed(cursor.get("orders"))
        ledger = self._ledger_feed(cursor.get("ledger"))
        by_key = {key: row for row in orders.rows if (key := order_key(row)) is not None}
        rows = {key: row for row in ledger.rows if (key := self._ledger_key(row)) is not None}
        by_key.update(self._orders_for([k for k in rows if k not in by_key]))
        rows.update(self._ledger_for([k for k in by_key if k not in rows]))
        invoices = sorted(
            (self.snapshot(order, rows.get(key)) for key, order in by_key.items()),
            key=lambda s: int(s.id),
        )
        cursor_out = {
            name: feed.cursor
            for name, feed in (("orders", orders), ("ledger", ledger))
            if feed.cursor is not None
        }
        return InvoicePage(invoices, cursor_out, more=orders.more or ledger.more)

    # --- the two feeds ------------------------------------------------------------------------
    def _orders_feed(self, start: str | None) -> Feed:
        since = (
            [("filter[invoiceDate][GTE]", self._lookback())]
            if start is None
            else [("filter[rowVersion][GT]", start)]
        )
        rows = self._page(self.settings.paths.orders, since)
        return self._advance(start, [(rows, len(rows) >= self.settings.invoice_page_size)])

    def _ledger_feed(self, start: str | None) -> Feed:
        since = (
            [("filter[voucherDate][GTE]", self._lookback())]
            if start is None
            else [("filter[rowVersion][GT]", start)]
        )
        pages = []
        for year in self._years():
            rows = self._page(
                self.settings.paths.voucher_report, [*self._ledger_params(year), *since]
            )
            pages.append((rows, len(rows) >= self.settings.invoice_page_size))
        return self._advance(start, pages)

    def _page(self, path: str, params: list[tuple[str, str]]) -> list[Row]:
        return self.list(
            path, [*params, BY_ROW_VERSION, ("filter[take]", str(self.settings.invoice_page_size))]
        )

    def _advance(self, start: str | None, pages: list[tuple[list[Row], bool]]) -> Feed:
        """The next cursor: a full page continues from its last row (the others re-read from
        there); otherwise the highest row version seen, less the overlap, never going back."""
        rows = [row for page, _ in pages for row in page]
        versions = [int(row["rowVersion"]) for row in rows if row.get("rowVersion") is not None]
        full = [max(int(r["rowVersion"]) for r in page) for page, is_full in pages if is_full]
        if full:
            return Feed(rows, str(min(full)), more=True)
        floor = int(start) if start is not None else None
        if not versions:
            return Feed(rows, start, more=False)
        after = max(versions) - self.settings.row_version_overlap
        return Feed(rows, str(after if floor is None else max(floor, after)), more=False)

    # --- completing one side from the other ---------------------------------------------------
    def _orders_for(self, keys: list[Key]) -> dict[Key, Row]:
        found: dict[Key, Row] = {}
        for batch in self._batches(keys):
            rows = self.list(
                self.settings.paths.orders,
                [("filter[invoiceNumber][IN]", number) for _, number in batch],
            )
            wanted = set(batch)
            found.update(
                {key: row for row in rows if (key := order_key(row)) is not None and key in wanted}
            )
        return found

    def _ledger_for(self, keys: list[Key]) -> dict[Key, Row]:
        found: dict[Key, Row] = {}
        field = self.settings.ledger_invoice_number_field
        for year in sorted({year for year, _ in keys}):
            numbers = [key for key in keys if key[0] == year]
            for batch in self._batches(numbers):
                rows = self.list(
                    self.settings.paths.voucher_report,
                    [
                        *self._ledger_params(year),
                        *((f"filter[{field}][IN]", number) for _, number in batch),
                    ],
                )
                wanted = set(batch)
                found.update(
                    {
                        key: row
                        for row in rows
                        if (key := self._ledger_key(row)) is not None and key in wanted
                    }
                )
        return found

    def _batches(self, keys: list[Key]) -> list[list[Key]]:
        return batches(keys, self.settings.invoice_page_size)

    # --- shapes -------------------------------------------------------------------------------
    def snapshot(self, order: Row, ledger_row: Row | None) -> InvoiceSnapshot:
        credit = order.get("orderType") == "credit"
        total = abs(Decimal(str(order.get("grossAmount") or 0)))
        currency = str(order.get("currencyCodeReference") or "NOK")
        balance = total if ledger_row is None else abs(rest_amount(ledger_row))
        return InvoiceSnapshot(
            id=str(order["id"]),
            number=str(order["invoiceNumber"]),
            kind="credit_note" if credit else "invoice",
            total=total,
            balance=balance,
            currency=currency,
            order_id=str(order["id"]),
            reference=order.get("orderReference"),
            credited_invoice=credited_invoice(order, self.settings) if credit else None,
        )

    def _ledger_key(self, row: Row) -> Key | None:
        number = row.get(self.settings.ledger_invoice_number_field)
        if (
            row.get("voucherTypeId") not in INVOICE_TYPES
            or number is None
            or row.get("voucherYear") is None
        ):
            return None
        return int(row["voucherYear"]), str(number)

    def _ledger_params(self, year: int) -> list[tuple[str, str]]:
        return [("filter[voucherYear][EQ]", str(year)), ("ledgerFilter[EQ]", "customerLedger")]

    def _years(self) -> list[int]:
        """The voucher years an open invoice can be in: this one and the last."""
        return [self.now.year - 1, self.now.year]

    def _lookback(self) -> str:
        day = self.now.date() - timedelta(days=self.settings.invoice_lookback_days)
        return f"{day.isoformat()}T00:00:00"


def order_key(row: Row) -> Key | None:
    """An invoiced order's (invoice year, invoice number); None for orders not invoiced."""
    number, day = row.get("invoiceNumber"), row.get("invoiceDate")
    if number is None or not day or row.get("orderCategory", "order") != "order":
        return None
    return int(str(day)[:4]), str(number)


def rest_amount(row: Row) -> Decimal:
    """What is left to pay, in the invoice's currency when it is not NOK."""
    foreign = row.get("currencyCode") and row.get("currencyRestAmount") is not None
    return Decimal(str(row["currencyRestAmount"] if foreign else row.get("restAmount") or 0))
