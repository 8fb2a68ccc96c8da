"""`salesentry/SalesEntries`: financial sales bookings, the "Sales Invoice" send mode.

No items here: each line is an amount excluding VAT on a G/L account (a GUID from
financial/GLAccounts), with the account's VAT code unless the line names one. Customer, Journal
(a sales journal's code) and at least one line are mandatory. The server numbers the entry from
the journal's sequence, books it open (status 20) and opens its receivable at once (an entry is
a booking, nothing is left to process). The server sets Type: a negative total is a credit
note (21); a client that sends a Type contradicting the amounts is refused.
"""

from __future__ import annotations

from decimal import Decimal

from simulators.exact import schema
from simulators.exact.books import journal_number, sales_journal
from simulators.exact.context import Ctx, Problems, Row, Writer, blank_row, reference, stamp
from simulators.exact.errors import ApiError
from simulators.exact.lines import party_names
from simulators.exact.receivables import book_receivable
from simulators.exact.values import decimal, money, new_guid, now_date, parse_date

OPEN = 20
ENTRY, CREDIT = 20, 21
TYPES = {ENTRY: "Sales entry", CREDIT: "Sales credit note"}
NO_VAT = "0  "


def create_entry(ctx: Ctx, values: Row) -> Row:
    problems = Problems()
    problems.need(values, "Customer", "Journal")
    lines = values.get("SalesEntryLines") or []
    if not lines:
        problems.add("mandatory", "SalesEntryLines")
    for line in lines:
        problems.need(line, "AmountFC", "GLAccount")
    problems.raise_any()
    entry_id = new_guid()
    row = {
        **blank_row(schema.SALES_ENTRIES),
        "Type": 20,
        "Currency": "EUR",
        "EntryDate": now_date(),
        **values,
        "EntryID": entry_id,
        "Status": OPEN,
        "StatusDescription": "Open",
    }
    _check_header(ctx, row)
    row["SalesEntryLines"] = [
        _line(ctx, line, index, entry_id) for index, line in enumerate(lines, start=1)
    ]
    row["EntryNumber"] = journal_number(ctx, row["Journal"], row["EntryDate"])
    row["InvoiceNumber"] = row["InvoiceNumber"] or row["EntryNumber"]
    _add_totals(row, "AmountFC" in values)
    _type_from_sign(row, values.get("Type"))
    stamp(ctx, row, created=True)
    book_receivable(
        ctx, row, row["Customer"], row["InvoiceNumber"], row["EntryDate"], row["EntryID"]
    )
    return row


def _type_from_sign(row: Row, sent: int | None) -> None:
    derived = CREDIT if decimal(row["AmountFC"]) < 0 else ENTRY
    if sent is not None and sent != derived:
        raise ApiError(400, ("invalid_value", "Type"))
    row["Type"], row["TypeDescription"] = derived, TYPES[derived]


def update_entry(ctx: Ctx, row: Row, values: Row) -> Row:
    """Header fields only; lines in the body are ignored."""
    if row["Status"] != OPEN:
        raise ApiError(400, ("processed",))
    updated = {**row, **values}
    _check_header(ctx, updated)
    return stamp(ctx, updated, created=False)


def delete_entry(ctx: Ctx, row: Row) -> None:
    if row["Status"] != OPEN:
        raise ApiError(400, ("processed",))


def _check_header(ctx: Ctx, row: Row) -> None:
    if row["Type"] not in TYPES:
        raise ApiError(400, ("invalid_value", "Type"))
    row["TypeDescription"] = TYPES[row["Type"]]
    row["JournalDescription"] = sales_journal(ctx, row["Journal"])["Description"]
    party_names(ctx, row, ("Customer",))
    booked = parse_date(row["EntryDate"] or "")
    if booked is not None:
        row["ReportingYear"] = row["ReportingYear"] or booked.year
        row["ReportingPeriod"] = row["ReportingPeriod"] or booked.month


def _line(ctx: Ctx, values: Row, number: int, entry_id: str) -> Row:
    gl = reference(ctx, schema.GL_ACCOUNTS, values["GLAccount"])
    row = {
        **blank_row(schema.SALES_ENTRY_LINES),
        **values,
        "ID": new_guid(),
        "LineNumber": number,
        "EntryID": entry_id,
        "Division": ctx.store.division,
    }
    vat = ctx.store.vat_code(row["VATCode"] or gl["VATCode"] or NO_VAT)
    if vat is None:
        raise ApiError(ctx.options.bad_reference_status, ("reference", "VATCodes"))
    amount = decimal(row["AmountFC"])
    vat_amount = (
        decimal(row["VATAmountFC"])
        if row["VATAmountFC"] is not None
        else amount * decimal(vat["Percentage"])
    )
    row.update(
        {
            "GLAccountCode": gl["Code"],
            "GLAccountDescription": gl["Description"],
            "VATCode": vat["Code"],
            "VATCodeDescription": vat["Description"],
            "VATPercentage": vat["Percentage"],
            "AmountFC": money(amount),
            "AmountDC": money(amount),
            "VATBaseAmountFC": money(amount),
            "VATAmountFC": money(vat_amount),
            "VATAmountDC": money(vat_amount),
        }
    )
    return row


def _add_totals(row: Row, amount_given: bool) -> None:
    lines = row["SalesEntryLines"]
    vat = sum((decimal(line["VATAmountFC"]) for line in lines), Decimal(0))
    excl = sum((decimal(line["AmountFC"]) for line in lines), Decimal(0))
    if not amount_given:
        row["AmountFC"] = money(excl + vat)
    if row["VATAmountFC"] is None:
        row["VATAmountFC"] = money(vat)
    row["AmountDC"], row["VATAmountDC"] = row["AmountFC"], row["VATAmountFC"]


def entry_from_invoice(ctx: Ctx, invoice: Row) -> Row:
    """The financial entry that processing an invoice books (option print_creates_sales_entry)."""
    entry_id = new_guid()
    lines = [
        _line(
            ctx,
            {
                "AmountFC": line["AmountFC"],
                "GLAccount": line["GLAccount"],
                "VATCode": line["VATCode"],
                "Description": line["Description"],
                "Quantity": line["Quantity"],
            },
            index,
            entry_id,
        )
        for index, line in enumerate(invoice["SalesInvoiceLines"], start=1)
    ]
    row = {
        **blank_row(schema.SALES_ENTRIES),
        "EntryID": entry_id,
        "Type": 20,
        "Customer": invoice["InvoiceTo"],
        "Journal": invoice["Journal"],
        "EntryDate": invoice["InvoiceDate"],
        "YourRef": invoice["YourRef"],
        "Description": invoice["Description"],
        "Currency": invoice["Currency"],
        "EntryNumber": invoice["InvoiceNumber"],
        "InvoiceNumber": invoice["InvoiceNumber"],
        "Status": OPEN,
        "StatusDescription": "Open",
        "SalesEntryLines": lines,
    }
    _check_header(ctx, row)
    _add_totals(row, amount_given=False)
    _type_from_sign(row, None)
    return stamp(ctx, row, created=True)


WRITERS = {schema.SALES_ENTRIES.path: Writer(create_entry, update_entry, delete_entry)}
