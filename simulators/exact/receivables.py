"""`cashflow/Receivables`: what customers still owe on booked sales documents, and payments.

Exact keeps payment state apart from the invoice: processing an invoice (or booking a sales
entry) opens a receivable for its total, and a payment matched to it settles it, all or part.
A SalesInvoice or SalesEntry does not change when it is paid. A part payment splits the
receivable (Exact documents that a receivable can be split, each part with its own EntryID): the
paid part becomes a matched row (Status 50, IsFullyPaid), the rest stays open (Status 20) with
the amount still due. Every change stamps the rows it touches, so `Modified` tells a poller
what changed. What stays unconfirmed is an option: the sign of the amounts
(`negative_receivables`).
"""

from __future__ import annotations

from decimal import Decimal

from simulators.exact import schema
from simulators.exact.context import Ctx, Row, blank_row, stamp
from simulators.exact.errors import ApiError
from simulators.exact.values import decimal, money, new_guid, now_date

OPEN, MATCHED = 20, 50


def book_receivable(
    ctx: Ctx, document: Row, account: str, number: int, booked: str | None, entry_id: str | None
) -> Row:
    """Open the receivable of a document that was just booked (its `AmountFC` incl. VAT)."""
    amount = _signed(ctx, decimal(document["AmountFC"]))
    journal = ctx.store.journal(document["Journal"]) or {}
    customer = ctx.store.get(schema.ACCOUNTS, account) or {}
    row = {
        **blank_row(schema.RECEIVABLES),
        "ID": new_guid(),
        "Account": account,
        "AccountCode": customer.get("Code"),
        "AccountName": customer.get("Name"),
        "AmountDC": money(amount),
        "AmountFC": money(amount),
        "TransactionAmountDC": money(amount),
        "TransactionAmountFC": money(amount),
        "Currency": document["Currency"],
        "Description": document["Description"],
        "DueDate": document["DueDate"],
        "EntryDate": booked,
        "EntryID": new_guid(),
        "EntryNumber": number,
        "InvoiceDate": booked,
        "InvoiceNumber": number,
        "IsFullyPaid": False,
        "Journal": document["Journal"],
        "JournalDescription": journal.get("Description"),
        "OrderNumber": document.get("OrderNumber"),
        "Source": 1,
        "Status": OPEN,
        "TransactionEntryID": entry_id,
        "TransactionIsReversal": False,
        "TransactionType": 20 if amount >= 0 else 21,
        "YourRef": document["YourRef"],
    }
    row = stamp(ctx, row, created=True)
    ctx.store.put(schema.RECEIVABLES, row)
    return row


def receivables_of(ctx: Ctx, journal: str, number: int) -> list[Row]:
    return [
        row
        for row in ctx.store.rows(schema.RECEIVABLES)
        if row["Journal"] == journal and row["InvoiceNumber"] == number
    ]


def outstanding(rows: list[Row]) -> Decimal:
    """What is still due, as a positive amount (for a credit note: still to refund)."""
    return abs(sum((decimal(r["AmountFC"]) for r in rows if r["Status"] == OPEN), Decimal(0)))


def pay(ctx: Ctx, journal: str, number: int, amount: Decimal | None) -> list[Row]:
    """Match a payment of `amount` (the rest when None) against the document's open part."""
    rows = receivables_of(ctx, journal, number)
    open_rows = [row for row in rows if row["Status"] == OPEN]
    if not open_rows:
        raise ApiError(400, ("text", "nothing is outstanding on this document"))
    row = open_rows[0]
    due = abs(decimal(row["AmountFC"]))
    paid = due if amount is None else amount
    if paid <= 0 or paid > due:
        raise ApiError(400, ("text", f"amount must be more than 0 and at most {due}"))
    today = now_date()
    if paid == due:
        row.update(Status=MATCHED, IsFullyPaid=True, EndDate=today, LastPaymentDate=today)
        stamp(ctx, row, created=False)
        return receivables_of(ctx, journal, number)
    sign = Decimal(-1) if decimal(row["AmountFC"]) < 0 else Decimal(1)
    left = money(sign * (due - paid))
    row.update(AmountFC=left, AmountDC=left, LastPaymentDate=today)
    stamp(ctx, row, created=False)
    part = {
        **row,
        "ID": new_guid(),
        "EntryID": new_guid(),
        "AmountFC": money(sign * paid),
        "AmountDC": money(sign * paid),
        "Status": MATCHED,
        "IsFullyPaid": True,
        "EndDate": today,
    }
    ctx.store.put(schema.RECEIVABLES, stamp(ctx, part, created=True))
    return receivables_of(ctx, journal, number)


def _signed(ctx: Ctx, amount: Decimal) -> Decimal:
    return -amount if ctx.options.negative_receivables else amount
