"""Sending a sales order and the outgoing invoice it becomes.

The real send is asynchronous: 202 at once, then the draft leaves `/SalesOrders` and reappears in
`/OutgoingInvoices` with the same Id, or the send ends with `LastErrorMessage`. Here the change is
settled lazily, at the start of every request, once the send's delay has passed; no background
task is needed and the outcome depends only on the clock. A sent order with a negative total
becomes an `OutgoingCreditNote` (Go: "a negative total = credit-note draft"). Payments are in
`payments.py`.
"""

from __future__ import annotations

import heapq
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.responses import Response

from simulators.admin import mod10_kid
from simulators.poweroffice.context import Ctx, Route
from simulators.poweroffice.fields import check_types, read_body, writable
from simulators.poweroffice.listing import after, in_ranges, list_response, parse_uuid
from simulators.poweroffice.options import PowerOfficeSimOptions
from simulators.poweroffice.orders import find
from simulators.poweroffice.problems import ApiError, json_response, not_found, validation
from simulators.poweroffice.store import PAYMENT_TERM_DAYS, SendState, Store, decimal, money

SEND_DELIVERY_TYPES = ("Auto", "PdfByEmail", "PdfPrintForDownload")
SEND_SCHEMA = {
    "DeliveryType": "str",
    "EmailAddress": "str",
    "VoucherDate": "date",
    "OverrideDueDate": "date",
}
# What the invoice records as delivered; Auto falls back to PDF by e-mail for our customers.
INVOICE_DELIVERY = {
    "Auto": "PdfByEmail",
    "PdfByEmail": "PdfByEmail",
    "PdfPrintForDownload": "Print",
}


async def send(ctx: Ctx) -> Response:
    if not ctx.options.send_privilege:
        raise ApiError(
            403, "Forbidden", "The integration does not have the privilege to send invoices."
        )
    order_id = ctx.params["id"]
    if _invoice_id(ctx.store, order_id) is not None:
        raise validation("SalesOrder", f"The sales order with id = {order_id} is already sent.")
    order = find(ctx)
    previous = ctx.store.sends.get(order["Id"])
    if previous is not None and previous.state == "processing":
        raise validation(
            "SalesOrder", f"The sales order with id = {order['Id']} is already being sent."
        )
    request = await _send_request(ctx)
    due = datetime.now(UTC) + timedelta(milliseconds=ctx.options.send_delay_ms)
    ctx.store.sends[order["Id"]] = SendState(
        order["Id"],
        due,
        request["DeliveryType"],
        request["EmailAddress"],
        request["VoucherDate"],
        request["OverrideDueDate"],
        ctx.options.send_error,
    )
    heapq.heappush(ctx.store.pending, (due, order["Id"]))
    location = f"{ctx.base_url}/SalesOrders/sentState?id={order['Id']}"
    return json_response({"Id": order["Id"], **request}, 202, headers={"Location": location})


async def sent_state(ctx: Ctx) -> Response:
    raw = ctx.query.get("id")
    if raw is None:
        raise validation("SalesOrder", "The query parameter id is required.")
    order_id = parse_uuid(raw, "id")
    invoice = ctx.store.invoices.get(order_id)
    if invoice is not None:
        return json_response([_state_of_invoice(invoice)])
    if order_id not in ctx.store.orders:
        raise not_found(f"SalesOrder with id = {order_id} not found.")
    state = ctx.store.sends.get(order_id)
    if state is None:
        return Response(status_code=204)  # never asked to send
    return json_response(
        [
            {
                "Id": order_id,
                "InvoiceNo": None,
                "SentDateTimeOffset": None,
                "DueDate": None,
                "InvoiceDeliveryType": INVOICE_DELIVERY[state.delivery_type],
                "IsInvoiceBeingProcessed": state.state == "processing",
                "LastErrorMessage": state.last_error,
            }
        ]
    )


async def list_invoices(ctx: Ctx) -> Response:
    q = ctx.query
    first, last = q.day("fromDate"), q.day("toDate")
    voucher_nos, invoice_nos, customer_nos = (
        q.ranges("voucherNos"),
        q.ranges("invoiceNos"),
        q.ranges("customerNos"),
    )
    ids, refs = q.uuids("invoiceIds"), q.strings("externalImportReferences")
    matching_refs = q.strings("customMatchingReferences")
    balance_changed = q.timestamp("balanceLastChangedDateTimeOffsetGreaterThan")
    sent_after = q.timestamp("sentDateTimeOffsetGreaterThan")
    unpaid, mine = q.boolean("onlyUnpaidInvoices"), q.boolean("onlyCreatedByCurrentIntegration")
    items = [
        i
        for i in sorted(ctx.store.invoices.values(), key=lambda i: i["VoucherNo"])
        if (first is None or date.fromisoformat(i["VoucherDate"]) >= first)
        and (last is None or date.fromisoformat(i["VoucherDate"]) <= last)
        and (voucher_nos is None or in_ranges(i["VoucherNo"], voucher_nos))
        and (invoice_nos is None or in_ranges(i["InvoiceNo"], invoice_nos))
        and (customer_nos is None or in_ranges(i["CustomerNo"], customer_nos))
        and (ids is None or i["Id"] in ids)
        and (refs is None or i["ExternalImportReference"] in refs)
        and (matching_refs is None or i["CustomMatchingReference"] in matching_refs)
        and after(i["BalanceLastChangedDateTimeOffset"], balance_changed)
        and after(i["SentDateTimeOffset"], sent_after)
        and (not unpaid or i["Balance"] != 0)
        and (not mine or i["IsCreatedByCurrentIntegration"])
    ]
    return list_response(ctx.request.url, q, items)


async def get_invoice(ctx: Ctx) -> Response:
    return json_response(ctx.store.invoices[_find_invoice(ctx)])


async def get_invoice_lines(ctx: Ctx) -> Response:
    return list_response(ctx.request.url, ctx.query, ctx.store.invoice_lines[_find_invoice(ctx)])


def settle(store: Store, options: PowerOfficeSimOptions) -> None:
    """Finish every send whose delay has passed, in the order they fell due."""
    now = datetime.now(UTC)
    while store.pending and store.pending[0][0] <= now:
        state = store.sends[heapq.heappop(store.pending)[1]]
        if state.error is not None:
            state.state, state.last_error = "failed", state.error
            continue
        order = store.orders.pop(state.order_id)
        store.invoices[order["Id"]] = _invoice(store, order, state, options)
        store.invoice_lines[order["Id"]] = _invoice_lines(store, order)
        state.state = "sent"


async def _send_request(ctx: Ctx) -> dict[str, Any]:
    body = await read_body(ctx.request, "SalesOrder")
    if body is not None and not isinstance(body, dict):
        raise validation("SalesOrder", "The request body must be a JSON object.")
    check_types("SalesOrder", body or {}, SEND_SCHEMA)
    request = dict.fromkeys(SEND_SCHEMA) | writable(body or {}, SEND_SCHEMA)
    request["DeliveryType"] = request["DeliveryType"] or "Auto"
    if request["DeliveryType"] not in SEND_DELIVERY_TYPES:
        raise validation("SalesOrder", f"DeliveryType '{request['DeliveryType']}' is not valid.")
    return request


def _invoice(
    store: Store, order: dict[str, Any], state: SendState, options: PowerOfficeSimOptions
) -> dict[str, Any]:
    """The outgoing invoice a sent order becomes; a negative total makes it a credit note."""
    sent = store.clock.stamp()
    credit = order["TotalAmount"] < 0
    # Header amounts keep the order's sign unless credit notes are shown positive (an option).
    sign = -1 if credit and not options.credit_note_amounts_negative else 1
    voucher_date = date.fromisoformat((state.voucher_date or store.clock.today().isoformat())[:10])
    due_date = (
        state.due_date[:10]
        if state.due_date
        else (voucher_date + timedelta(days=PAYMENT_TERM_DAYS)).isoformat()
    )
    number = store.new_invoice_no()
    rate = decimal(order["CurrencyExchangeRate"] or 1)
    posted_total = money(decimal(order["TotalAmount"]) * rate * sign)
    keep = (
        "Id",
        "CustomerId",
        "CustomerNo",
        "CurrencyCode",
        "CurrencyExchangeRate",
        "CustomerReference",
        "PurchaseOrderReference",
        "ExternalImportReference",
        "ImportedOrderNo",
        "CustomMatchingReference",
        "DeliveryDate",
        "DepartmentId",
        "ProjectId",
        "ContractNo",
        "IsCreatedByCurrentIntegration",
        "RelatedInvoiceNo",
    )
    return {
        **{key: order[key] for key in keep},
        "VoucherNo": number,
        "InvoiceNo": number,
        "VoucherType": "OutgoingCreditNote" if credit else "OutgoingInvoice",
        "NetAmount": money(decimal(order["NetAmount"]) * sign),
        "TotalAmount": money(decimal(order["TotalAmount"]) * sign),
        "VoucherDate": voucher_date.isoformat(),
        "DueDate": due_date,
        "OrderNo": order["SalesOrderNo"],
        "OrderDate": order["SalesOrderDate"],
        "Cid": mod10_kid(number),
        "NetPostedAmount": money(decimal(order["NetAmount"]) * rate * sign),
        "TotalPostedAmount": posted_total,
        "Balance": posted_total,
        "BalanceLastChangedDateTimeOffset": store.clock.balance_stamp(
            options.balance_stamp_resolution_seconds
        ),
        "InvoiceDeliveryType": INVOICE_DELIVERY[state.delivery_type],
        "SentDateTimeOffset": sent,
        "IsReversed": False,
        "CreatedDateTimeOffset": sent,
        "LastChangedDateTimeOffset": sent,
    }


def _invoice_lines(store: Store, order: dict[str, Any]) -> list[dict[str, Any]]:
    keep = (
        "LineType",
        "ProductId",
        "ProductCode",
        "Description",
        "Quantity",
        "ProductUnitPrice",
        "ProductUnitCost",
        "Allowance",
        "SortOrder",
        "UnitOfMeasureCode",
        "VatCode",
        "VatRate",
        "ExternalImportReference",
        "NetAmount",
        "VatAmount",
        "TotalAmount",
    )
    return [
        {"Id": store.new_id(), **{key: line[key] for key in keep}}
        for line in order["SalesOrderLines"]
    ]


def _state_of_invoice(invoice: dict[str, Any]) -> dict[str, Any]:
    return {
        "Id": invoice["Id"],
        "InvoiceNo": invoice["InvoiceNo"],
        "SentDateTimeOffset": invoice["SentDateTimeOffset"],
        "DueDate": invoice["DueDate"],
        "InvoiceDeliveryType": invoice["InvoiceDeliveryType"],
        "IsInvoiceBeingProcessed": False,
        "LastErrorMessage": None,
    }


def _invoice_id(store: Store, raw: str) -> str | None:
    try:
        invoice_id = parse_uuid(raw, "id")
    except ApiError:
        return None
    return invoice_id if invoice_id in store.invoices else None


def _find_invoice(ctx: Ctx) -> str:
    invoice_id = _invoice_id(ctx.store, ctx.params["id"])
    if invoice_id is None:
        raise not_found(f"OutgoingInvoice with id = {ctx.params['id']} not found.")
    return invoice_id


ROUTES: list[Route] = [
    ("POST", "/SalesOrders/{id}/createAndSendInvoice", send),
    ("GET", "/SalesOrders/sentState", sent_state),
    ("GET", "/OutgoingInvoices", list_invoices),
    ("GET", "/OutgoingInvoices/{id}", get_invoice),
    ("GET", "/OutgoingInvoices/{id}/Lines", get_invoice_lines),
]
