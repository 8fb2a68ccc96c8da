"""`salesinvoice/SalesInvoices` and `PrintedSalesInvoices`: invoices created open, numbered only
when processed.

Journal is a code string ("70") that must name a sales journal, not a GUID. Type 8020 is a normal
invoice and 8023 a direct invoice, which books the stock movement too and so needs a Warehouse
(which a normal invoice must not have); 8021 and 8024 are their credit notes. A new invoice is
open (20) with InvoiceNumber null; POSTing its InvoiceID to PrintedSalesInvoices processes it:
status 50, a number from the journal's sequence, a receivable for its total, and no more changes.

A credit note's amounts are negative. Whether the client sends negative quantities or Exact
negates positive ones is unconfirmed: option `credit_note_quantities` refuses the other form.
The REST API has no field naming the invoice a credit note credits (the UI's "OrderNumberFrom"
is not exposed, picqer/exact-php-client#464), so clients say it in the description.
"""

from __future__ import annotations

from datetime import timedelta

from simulators.exact import schema
from simulators.exact.books import journal_number, sales_journal
from simulators.exact.context import Ctx, Problems, Row, Writer, blank_row, reference, stamp
from simulators.exact.entries import entry_from_invoice
from simulators.exact.errors import ApiError
from simulators.exact.lines import check_item_lines, item_line, party_names, totals
from simulators.exact.receivables import book_receivable
from simulators.exact.values import decimal, exact_date, new_guid, now_date, parse_date

OPEN, PROCESSED = 20, 50
TYPES = {
    8020: "Sales invoice",
    8021: "Sales credit note",
    8023: "Direct sales invoice",
    8024: "Direct sales credit note",
}
DIRECT_TYPES = (8023, 8024)
CREDIT_TYPES = (8021, 8024)
PAYMENT_DAYS = 14
_PARTIES = ("OrderedBy", "DeliverTo", "InvoiceTo")


def create_invoice(ctx: Ctx, values: Row) -> Row:
    problems = Problems()
    problems.need(values, "Journal")
    if values.get("OrderedBy") is None and values.get("InvoiceTo") is None:
        problems.add("mandatory", "InvoiceTo")
    problems.need(values, "OrderedBy")
    lines = check_item_lines(values, "SalesInvoiceLines", problems)
    problems.raise_any()
    invoice_id = new_guid()
    row = {
        **blank_row(schema.SALES_INVOICES),
        "Type": 8020,
        "Currency": "EUR",
        "InvoiceDate": now_date(),
        **values,
        "InvoiceID": invoice_id,
        "InvoiceNumber": None,
        "Status": OPEN,
        "StatusDescription": "Open",
    }
    row["DeliverTo"] = row["DeliverTo"] or row["OrderedBy"]
    row["InvoiceTo"] = row["InvoiceTo"] or row["OrderedBy"]
    _check_header(ctx, row)
    if row["Type"] in CREDIT_TYPES:
        lines = _credit_lines(ctx, lines)
    row["SalesInvoiceLines"] = [
        item_line(ctx, schema.SALES_INVOICE_LINES, line, index, ("InvoiceID", invoice_id))
        for index, line in enumerate(lines, start=1)
    ]
    _add_totals(row)
    return stamp(ctx, row, created=True)


def _credit_lines(ctx: Ctx, lines: list[Row]) -> list[Row]:
    """The lines of a credit note with negative quantities, from what the option allows."""
    wanted_negative = ctx.options.credit_note_quantities == "negative"
    result = []
    for line in lines:
        quantity = decimal(line.get("Quantity"), "1")
        if quantity == 0 or (quantity < 0) != wanted_negative:
            raise ApiError(400, ("invalid_value", "Quantity"))
        result.append({**line, "Quantity": float(-abs(quantity))})
    return result


def update_invoice(ctx: Ctx, row: Row, values: Row) -> Row:
    """Header fields of an open invoice; lines in the body are ignored."""
    if row["Status"] == PROCESSED:
        raise ApiError(400, ("processed",))
    updated = {**row, **values}
    _check_header(ctx, updated)
    return stamp(ctx, updated, created=False)


def delete_invoice(ctx: Ctx, row: Row) -> None:
    if row["Status"] == PROCESSED:
        raise ApiError(400, ("processed",))


def _check_header(ctx: Ctx, row: Row) -> None:
    if row["Type"] not in TYPES:
        raise ApiError(400, ("invalid_value", "Type"))
    row["TypeDescription"] = TYPES[row["Type"]]
    journal = sales_journal(ctx, row["Journal"])
    row["JournalDescription"] = journal["Description"]
    party_names(ctx, row, _PARTIES)
    if row["Type"] in DIRECT_TYPES:
        if row["Warehouse"] is None:
            raise ApiError(400, ("mandatory", "Warehouse"))
        reference(ctx, schema.WAREHOUSES, row["Warehouse"])
    elif row["Warehouse"] is not None:
        raise ApiError(400, ("warehouse_not_allowed",))
    if row["DueDate"] is None and row["InvoiceDate"] is not None:
        invoice_date = parse_date(row["InvoiceDate"])
        if invoice_date is not None:
            row["DueDate"] = exact_date(invoice_date + timedelta(days=PAYMENT_DAYS))


def _add_totals(row: Row) -> None:
    amounts = totals(row["SalesInvoiceLines"])
    row.update(amounts)
    row["VATAmountFC"] = row["VATAmountDC"] = round(
        amounts["AmountFC"] - amounts["AmountFCExclVat"], 2
    )


def print_invoice(ctx: Ctx, values: Row) -> Row:
    """Process the invoice named by InvoiceID; the reply echoes the request with the outcome."""
    problems = Problems()
    problems.need(values, "InvoiceID")
    problems.raise_any()
    invoice = reference(ctx, schema.SALES_INVOICES, values["InvoiceID"])
    if invoice["Status"] == PROCESSED:
        raise ApiError(400, ("processed",))
    if values.get("InvoiceDate"):
        invoice["InvoiceDate"] = values["InvoiceDate"]
    invoice["InvoiceNumber"] = journal_number(ctx, invoice["Journal"], invoice["InvoiceDate"])
    invoice["Status"], invoice["StatusDescription"] = PROCESSED, "Processed"
    invoice["Document"] = new_guid()
    stamp(ctx, invoice, created=False)
    entry_id = None
    if ctx.options.print_creates_sales_entry:
        entry = entry_from_invoice(ctx, invoice)
        ctx.store.put(schema.SALES_ENTRIES, entry)
        entry_id = entry["EntryID"]
    book_receivable(
        ctx,
        invoice,
        invoice["InvoiceTo"],
        invoice["InvoiceNumber"],
        invoice["InvoiceDate"],
        entry_id,
    )
    emailed = bool(values.get("SendEmailToCustomer"))
    return {
        **blank_row(schema.PRINTED_SALES_INVOICES),
        **values,
        "Division": ctx.store.division,
        "Document": invoice["Document"],
        "DocumentCreationSuccess": "Document created",
        "EmailCreationSuccess": "Email sent" if emailed else None,
    }


def invoice_from_order(ctx: Ctx, order: Row, journal: str) -> Row:
    """The invoice Exact makes when a user invoices a sales order ("Factureren"): its lines,
    YourRef and OrderNumber, each line pointing back at its order line; the order is complete."""
    lines = [
        {
            "Item": line["Item"],
            "Description": line["Description"],
            "Quantity": line["Quantity"],
            "UnitPrice": line["UnitPrice"],
            "Discount": line["Discount"],
            "VATCode": line["VATCode"],
            "SalesOrder": order["OrderID"],
            "SalesOrderLine": line["ID"],
        }
        for line in order["SalesOrderLines"]
    ]
    invoice = create_invoice(
        ctx,
        {
            "Journal": journal,
            "OrderedBy": order["OrderedBy"],
            "InvoiceTo": order["InvoiceTo"],
            "DeliverTo": order["DeliverTo"],
            "YourRef": order["YourRef"],
            "Description": order["Description"],
            "OrderNumber": order["OrderNumber"],
            "OrderDate": order["OrderDate"],
            "Currency": order["Currency"],
            "SalesInvoiceLines": lines,
        },
    )
    order.update(
        Status=21,
        StatusDescription="Complete",
        InvoiceStatus=21,
        InvoiceStatusDescription="Complete",
    )
    stamp(ctx, order, created=False)
    return invoice


WRITERS = {
    schema.SALES_INVOICES.path: Writer(create_invoice, update_invoice, delete_invoice),
    schema.PRINTED_SALES_INVOICES.path: Writer(print_invoice),
}
