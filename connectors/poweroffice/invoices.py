"""Watching PowerOffice Go's outgoing invoices: the cursor, the two reads it asks for, and what an
`OutgoingInvoiceDto` becomes for shared code. No I/O here; the connector does the reads.

Go offers two filters that together cover everything (erp/poweroffice-go.md §8): `voucherNos=
<last+1>-` for invoices and credit notes posted since the last one seen, and
`balanceLastChangedDateTimeOffsetGreaterThan` for balances that changed (payments), which also
returns new invoices. That filter is exclusive and stamps can repeat or be committed a moment after
a later one is visible, so the balance cursor is kept a little behind the newest stamp seen: the
overlap is read again (shared code deduplicates), never skipped. The voucher read is kept as
well because it does not depend on stamps at all (an invoice posted with an older balance stamp,
as imports might be, would still be found).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.base import InvoiceSnapshot
from connectors.values import decimal_or_none
from connectors.watch import parse_stamp  # Go's DateTimeOffset: seven fractional digits

CENT = Decimal("0.01")
CREDIT_NOTE = "OutgoingCreditNote"


@dataclass(frozen=True)
class InvoiceCursor:
    """Where the last poll left off; stored by shared code as the dict of `as_dict`.

    `voucher_no` is the highest voucher number read by the voucher read (None until one is seen:
    then invoices are read from `from_date`); `balance_after` is the exclusive lower bound of the
    next balance read."""

    voucher_no: int | None
    from_date: date
    balance_after: datetime

    @classmethod
    def parse(cls, raw: Mapping[str, str], today: date, lookback_days: int) -> InvoiceCursor:
        """An empty cursor starts `lookback_days` back, not at the beginning of time."""
        start = today - timedelta(days=lookback_days)
        voucher = raw.get("voucher_no")
        return cls(
            voucher_no=int(voucher) if voucher else None,
            from_date=date.fromisoformat(raw["from_date"]) if raw.get("from_date") else start,
            balance_after=parse_stamp(raw["balance_after"])
            if raw.get("balance_after")
            else datetime.combine(start, time.min, UTC),
        )

    def as_dict(self) -> dict[str, str]:
        cursor = {
            "from_date": self.from_date.isoformat(),
            "balance_after": self.balance_after.isoformat(),
        }
        if self.voucher_no is not None:
            cursor["voucher_no"] = str(self.voucher_no)
        return cursor

    def new_invoices_query(self) -> dict[str, str]:
        if self.voucher_no is None:
            return {"fromDate": self.from_date.isoformat()}
        return {"voucherNos": f"{self.voucher_no + 1}-"}

    def balance_query(self) -> dict[str, str]:
        return {"balanceLastChangedDateTimeOffsetGreaterThan": self.balance_after.isoformat()}

    def advanced(
        self,
        new_invoices: list[dict[str, Any]],
        balance_changes: list[dict[str, Any]],
        overlap: timedelta,
    ) -> InvoiceCursor:
        """The cursor after these reads. Each part moves only by what its own read returned, and
        never backwards; the balance bound stays `overlap` behind the newest stamp seen."""
        numbers = [int(i["VoucherNo"]) for i in new_invoices if i.get("VoucherNo") is not None]
        stamps = [
            parse_stamp(i["BalanceLastChangedDateTimeOffset"])
            for i in balance_changes
            if i.get("BalanceLastChangedDateTimeOffset")
        ]
        voucher_no = max(
            [*numbers, *([self.voucher_no] if self.voucher_no is not None else [])], default=None
        )
        balance_after = max([self.balance_after, *(s - overlap for s in stamps)])
        return InvoiceCursor(voucher_no, self.from_date, balance_after)


def snapshot(invoice: dict[str, Any]) -> InvoiceSnapshot:
    """One `OutgoingInvoiceDto` as shared code compares it.

    Go keeps `Balance` in the client currency (NOK) but `TotalAmount` in the invoice's, so the
    balance is scaled by the invoice's own total/posted ratio to share the total's currency (0
    stays 0, unpaid stays the total). A credit note is given as positive sums (what was credited,
    what is left to refund) whichever sign Go shows (the header sign is unconfirmed)."""
    total = decimal_or_none(invoice.get("TotalAmount")) or Decimal(0)
    posted = decimal_or_none(invoice.get("TotalPostedAmount")) or Decimal(0)
    balance = (
        posted
        if invoice.get("Balance") is None
        else (decimal_or_none(invoice["Balance"]) or Decimal(0))
    )
    if posted and posted != total:
        balance = _cents(balance * total / posted)
    credit = invoice.get("VoucherType") == CREDIT_NOTE
    if credit and total < 0:
        total, balance = -total, -balance
    stamp = invoice.get("BalanceLastChangedDateTimeOffset")
    related = invoice.get("RelatedInvoiceNo")
    return InvoiceSnapshot(
        id=str(invoice["Id"]),
        number=str(invoice.get("InvoiceNo") or invoice["VoucherNo"]),
        kind="credit_note" if credit else "invoice",
        total=_cents(total),
        balance=_cents(balance),
        currency=str(invoice.get("CurrencyCode") or "NOK"),
        order_id=str(invoice["Id"]),  # a sent sales order keeps its Id as the invoice's
        reference=invoice.get("ExternalImportReference"),
        credited_invoice=str(related) if credit and related is not None else None,
        changed_at=parse_stamp(stamp) if stamp else None,
    )


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)
