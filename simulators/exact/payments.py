"""What happens in an Exact company outside the API, for tests to drive the invoice loop.

`POST /_sim/payments {"invoice_id", "amount"}`: a customer pays (part of) a processed invoice or
a booked sales entry, as a matched bank statement line would (amount left out: the rest). The
reply is the document with its receivables as `cashflow/Receivables` now shows them and the
amount still `Outstanding`.

`POST /_sim/invoice-order {"order_id", "process"}`: a user invoices a sales order in Exact's UI;
the invoice is processed too unless `process` is false.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.responses import JSONResponse, Response

from simulators.admin import admin_error, json_object
from simulators.exact import schema
from simulators.exact.context import Ctx, Row
from simulators.exact.errors import ApiError, render_message
from simulators.exact.invoices import PROCESSED, invoice_from_order, print_invoice
from simulators.exact.receivables import outstanding, pay
from simulators.exact.store import SALES_JOURNAL_CODE
from simulators.exact.values import guid

PAYMENT_BODY = (
    'body must be {"invoice_id": "<InvoiceID or EntryID>", "amount": "100.00"} '
    "(amount optional: the rest)"
)


async def payment(ctx: Ctx) -> Response:
    try:
        body = await json_object(ctx.request)
        document_id = guid(str(body["invoice_id"]))
        amount = None if body.get("amount") is None else Decimal(str(body["amount"]))
    except (ValueError, KeyError, InvalidOperation):
        return admin_error(400, PAYMENT_BODY)
    invoice = ctx.store.get(schema.SALES_INVOICES, document_id)
    entry = ctx.store.get(schema.SALES_ENTRIES, document_id)
    document = invoice or entry
    if document is None:
        return admin_error(400, f"no SalesInvoice or SalesEntry {body['invoice_id']!r}")
    if invoice is not None and invoice["Status"] != PROCESSED:
        return admin_error(400, "the invoice is not processed yet: nothing is receivable")
    number = document["InvoiceNumber"]
    try:
        rows = pay(ctx, document["Journal"], number, amount)
    except ApiError as exc:
        return admin_error(400, "; ".join(render_message(m, "en") for m in exc.messages))
    return JSONResponse(
        {**_header(document), "Outstanding": float(outstanding(rows)), "Receivables": rows}
    )


async def invoice_order(ctx: Ctx) -> Response:
    try:
        body = await json_object(ctx.request)
        order_id = guid(str(body["order_id"]))
    except (ValueError, KeyError):
        return admin_error(400, 'body must be {"order_id": "<OrderID>", "process": true}')
    order = ctx.store.get(schema.SALES_ORDERS, order_id)
    if order is None:
        return admin_error(404, f"no SalesOrder {body['order_id']!r}")
    if order["InvoiceStatus"] == 21:
        return admin_error(400, "the order is invoiced already")
    try:
        invoice = invoice_from_order(ctx, order, str(body.get("journal") or SALES_JOURNAL_CODE))
        ctx.store.put(schema.SALES_INVOICES, invoice)
        if body.get("process", True):
            print_invoice(ctx, {"InvoiceID": invoice["InvoiceID"]})
    except ApiError as exc:
        return admin_error(400, "; ".join(render_message(m, "en") for m in exc.messages))
    return JSONResponse(_header(invoice), status_code=201)


def _header(document: Row) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in ("SalesInvoiceLines", "SalesEntryLines")}
