"""The Exact Online invoice watch: processed invoices, credit notes and what is still owed on them.

Exact has no feed of balance changes, and a SalesInvoice (or SalesEntry) does not change when it
is paid: payment state lives in the receivables (`cashflow/Receivables`), one row per payment
term, split when a part is paid (Status 50 = matched, the rest stays open). So each poll reads
two change feeds, both on `Modified` (inclusive `ge`, ordered, stepped back a little, because
two changes can share a stamp and stamps are not written in strict order):
1. documents of our sales journal modified since the cursor: new processed invoices and credit
   notes (SalesInvoices with Status 50; in sales-entry mode SalesEntries, booked on create);
2. receivables of our journal modified since the cursor: payments, by invoice number.
For every invoice number either feed names, the document and all its receivables are read, and
the balance is what the open receivables still say (sign-agnostic: Exact's sign convention for
receivable amounts is unconfirmed, see the simulator's `negative_receivables`). The cursor holds
each feed's newest stamp; while a feed has more pages it resumes there without stepping back.

What Exact can't say, and what we do instead:
- which invoice a credit note credits (no such REST field): we read it back from the
  description `create_credit_note` wrote;
- which sales order an invoice came from, by id: the invoice carries the order's OrderNumber,
  which we look up (sales-order mode only), and YourRef, which Exact copies from the order
  (inferred);
- `read/financial/ReceivablesList` (the outstanding-items report) would give the open amount
  directly, but has no change stamp and drops paid items, so "paid" would have to be inferred
  from absence by re-reading every open item each poll; we do not use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from connectors.base import InvoicePage, InvoiceSnapshot
from connectors.exact import odata
from connectors.exact.mapping import CREDIT_NOTE_TYPES, credited_invoice
from connectors.exact.settings import ExactSettings
from connectors.watch import batches

Row = dict[str, Any]
# (path, params, max pages) -> (rows, more pages left)
ListRows = Callable[[str, dict[str, str], int], tuple[list[Row], bool]]
MATCHED = 50
PROCESSED = 50
BATCH = 25
RECEIVABLES = "cashflow/Receivables"


@dataclass(frozen=True)
class DocumentKind:
    path: str
    id_field: str
    number_field: str  # the number we report
    select: str
    credit_types: tuple[int, ...]
    processed_only: bool


INVOICES = DocumentKind(
    "salesinvoice/SalesInvoices",
    "InvoiceID",
    "InvoiceNumber",
    "InvoiceID,InvoiceNumber,Type,Status,AmountFC,Currency,YourRef,Description,OrderNumber,"
    "Modified",
    tuple(CREDIT_NOTE_TYPES.values()),
    processed_only=True,
)
ENTRIES = DocumentKind(
    "salesentry/SalesEntries",
    "EntryID",
    "EntryNumber",
    "EntryID,EntryNumber,InvoiceNumber,Type,AmountFC,Currency,YourRef,Description,Modified",
    (21,),
    processed_only=False,
)


class InvoiceWatch:
    def __init__(self, settings: ExactSettings, list_rows: ListRows) -> None:
        self.settings = settings
        self.list_rows = list_rows
        self.kind = ENTRIES if settings.send_as == "sales_entry" else INVOICES
        self.journal = odata.eq("Journal", settings.journal)

    def poll(self, cursor: Mapping[str, str]) -> InvoicePage:
        documents, documents_more = self._changed(
            self.kind.path, self.kind.select, cursor, "documents", self._processed()
        )
        changed_receivables, receivables_more = self._changed(
            RECEIVABLES, "InvoiceNumber,Modified", cursor, "receivables", ""
        )
        by_number = {
            int(d["InvoiceNumber"]): d for d in documents if d.get("InvoiceNumber") is not None
        }
        wanted = set(by_number) | {
            int(r["InvoiceNumber"])
            for r in changed_receivables
            if r.get("InvoiceNumber") is not None
        }
        missing = sorted(wanted - set(by_number))
        for batch in batches(missing, BATCH):
            rows, _ = self.list_rows(
                self.kind.path,
                {
                    "$filter": f"{odata.any_number('InvoiceNumber', batch)} and {self.journal}"
                    f"{self._processed()}",
                    "$select": self.kind.select,
                },
                1_000,
            )
            by_number.update({int(d["InvoiceNumber"]): d for d in rows})
        receivables = self._receivables(sorted(by_number))
        orders = self._order_ids(by_number.values())
        snapshots = [
            self._snapshot(doc, receivables.get(number, []), orders)
            for number, doc in sorted(by_number.items())
        ]
        next_cursor = {**cursor}
        _advance(next_cursor, "documents", documents, documents_more)
        _advance(next_cursor, "receivables", changed_receivables, receivables_more)
        if not cursor.get("documents") or not cursor.get("receivables"):
            start = _format(self._start(cursor, "documents"))
            next_cursor.setdefault("documents", start)
            next_cursor.setdefault("receivables", start)
        return InvoicePage(
            snapshots,
            {k: str(v) for k, v in next_cursor.items()},
            more=documents_more or receivables_more,
        )

    # --- the two change feeds -----------------------------------------------------------------
    def _processed(self) -> str:
        return f" and Status eq {PROCESSED}" if self.kind.processed_only else ""

    def _start(self, cursor: Mapping[str, str], feed: str) -> datetime:
        stamp = cursor.get(feed)
        if not stamp:
            return datetime.now(UTC) - timedelta(days=self.settings.invoice_lookback_days)
        moment = datetime.fromisoformat(stamp)
        if cursor.get(f"{feed}_resume"):
            return moment  # finishing a long read: no step back, or it would never end
        return moment - timedelta(seconds=self.settings.invoice_overlap_seconds)

    def _changed(
        self, path: str, select: str, cursor: Mapping[str, str], feed: str, extra: str
    ) -> tuple[list[Row], bool]:
        since = self._start(cursor, feed)
        return self.list_rows(
            path,
            {
                "$filter": f"{odata.modified_since(since)} and {self.journal}{extra}",
                "$select": select,
                "$orderby": "Modified",
            },
            self.settings.invoice_pages_per_poll,
        )

    # --- what each invoice needs --------------------------------------------------------------
    def _receivables(self, numbers: list[int]) -> dict[int, list[Row]]:
        found: dict[int, list[Row]] = {}
        for batch in batches(numbers, BATCH):
            rows, _ = self.list_rows(
                RECEIVABLES,
                {
                    "$filter": f"{odata.any_number('InvoiceNumber', batch)} and {self.journal}",
                    "$select": "ID,InvoiceNumber,AmountFC,Status,Modified",
                },
                1_000,
            )
            for row in rows:
                found.setdefault(int(row["InvoiceNumber"]), []).append(row)
        return found

    def _order_ids(self, documents: Any) -> dict[int, str]:
        """OrderNumber → OrderID, for invoices Exact made from our sales orders."""
        if self.settings.send_as != "order":
            return {}
        numbers = sorted({int(d["OrderNumber"]) for d in documents if d.get("OrderNumber")})
        found: dict[int, str] = {}
        for batch in batches(numbers, BATCH):
            rows, _ = self.list_rows(
                "salesorder/SalesOrders",
                {
                    "$filter": odata.any_number("OrderNumber", batch),
                    "$select": "OrderID,OrderNumber",
                },
                1_000,
            )
            found.update({int(r["OrderNumber"]): str(r["OrderID"]) for r in rows})
        return found

    def _snapshot(
        self, doc: Row, receivables: list[Row], orders: dict[int, str]
    ) -> InvoiceSnapshot:
        total = abs(Decimal(str(doc.get("AmountFC") or 0)))
        if receivables:
            balance = abs(
                sum(
                    (
                        Decimal(str(r["AmountFC"] or 0))
                        for r in receivables
                        if r.get("Status") != MATCHED
                    ),
                    Decimal(0),
                )
            )
        else:
            balance = total  # booked, but no receivable to read yet: nothing known paid
        kind: Literal["invoice", "credit_note"] = (
            "credit_note" if doc.get("Type") in self.kind.credit_types else "invoice"
        )
        own_id = str(doc[self.kind.id_field])
        order_number = doc.get("OrderNumber")
        order_id = orders.get(int(order_number)) if order_number else None
        stamps = [odata.parse_date(r.get("Modified")) for r in [doc, *receivables]]
        return InvoiceSnapshot(
            id=own_id,
            number=str(doc[self.kind.number_field]),
            kind=kind,
            total=total,
            balance=balance.quantize(Decimal("0.01")),
            currency=str(doc.get("Currency") or "EUR"),
            order_id=order_id or own_id,
            reference=doc.get("YourRef") or None,
            credited_invoice=credited_invoice(doc.get("Description"))
            if kind == "credit_note"
            else None,
            changed_at=max((s for s in stamps if s is not None), default=None),
        )


def _advance(cursor: dict[str, str], feed: str, rows: list[Row], more: bool) -> None:
    stamps = [odata.parse_date(r.get("Modified")) for r in rows]
    newest = max((s for s in stamps if s is not None), default=None)
    if newest is not None:
        old = cursor.get(feed)
        if not old or newest > datetime.fromisoformat(old):
            cursor[feed] = _format(newest)
    cursor.pop(f"{feed}_resume", None)
    if more:
        cursor[f"{feed}_resume"] = "1"


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
