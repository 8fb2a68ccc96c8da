"""The customer ledger as Duett's voucher report shows it, and customers paying invoices.

An order says nothing about payment: its statuses end at invoiced/booked. What is left to pay
lives in the ledger: the voucher report (documented: `restAmount`, `currencyRestAmount`,
`ledgerState` blank/partCrossed/crossed/locked, `dueDate`, `kid`, `refNumber`; every request
must filter `voucherYear`; `ledgerFilter[EQ]=customerLedger` narrows to customer accounts).
Its route is not documented (an option), and neither is which field carries the invoice
number (an option) nor the name of the voucher type key (`voucherTypeId` here: 2 payment,
3 outgoing invoice, 4 outgoing credit note, the keys of Duett's voucher type register).

Direct invoicing posts the invoice's row here at once. A payment (`POST /_sim/payments`)
crosses it: `restAmount` falls, `ledgerState` goes partCrossed then crossed, the row takes a
new rowVersion (a changed entity always does), and a payment row is added beside it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from simulators.admin import admin_error, json_object, mod10_kid
from simulators.duett.context import Ctx, Route
from simulators.duett.listing import list_response
from simulators.duett.options import DuettSimOptions
from simulators.duett.pricing import cents, money
from simulators.duett.problems import invalid, json_response
from simulators.duett.query import parse
from simulators.duett.store import Store

PAYMENT, OUTGOING_INVOICE, OUTGOING_CREDIT_NOTE = 2, 3, 4
VOUCHER_TYPE_NAMES = {
    PAYMENT: "Payment customer",
    OUTGOING_INVOICE: "Outgoing invoice",
    OUTGOING_CREDIT_NOTE: "Outgoing credit note",
}
LEDGER_FILTERS = ("ledger", "generalLedger", "customerLedger", "supplierLedger")
FILTERABLE = {
    "id": "int",
    "voucherYear": "int",
    "voucherNumber": "int",
    "voucherDate": "date",
    "voucherTypeId": "int",
    "accountNumber": "str",
    "accountType": "str",
    "refNumber": "str",
    "kid": "str",
    "ledgerState": "str",
    "restAmount": "num",
    "dueDate": "date",
    "rowVersion": "int",
}


def post_invoice(
    store: Store, order: dict[str, Any], customer: dict[str, Any], options: DuettSimOptions
) -> None:
    """The invoiced order's row in the customer ledger: a credit note is a negative amount
    whatever sign its lines carry."""
    credit = order["orderType"] == "credit"
    rate = Decimal(str(order["currencyConversionRate"]))
    gross = Decimal(str(order["grossAmount"]))
    net = Decimal(str(order["netAmount"]))
    gross, net = (-abs(gross), -abs(net)) if credit else (gross, net)
    year = int(order["invoiceDate"][:4])
    voucher_number = store.voucher_number(year)
    invoice_number = str(order["invoiceNumber"])
    in_voucher = options.ledger_invoice_number_field == "voucherNumber"
    row = _row(
        store,
        customer,
        year,
        OUTGOING_CREDIT_NOTE if credit else OUTGOING_INVOICE,
        order["invoiceDate"],
        gross * rate,
        order["currencyCodeReference"],
        rate,
    )
    row.update(
        {
            "voucherNumber": int(invoice_number) if in_voucher else voucher_number,
            "refNumber": None if in_voucher else invoice_number,
            "amountNetto": money(net * rate),
            "currencyGross": money(gross),
            "currencyRestAmount": money(gross),
            "restAmount": money(gross * rate),
            "dueDate": order["dueDate"],
            "kid": mod10_kid(invoice_number),
            "payType": order["payType"],
            "description": f"{'Kreditnota' if credit else 'Faktura'} {invoice_number}",
        }
    )
    store.ledger[row["id"]] = row
    store.ledger_of_order[order["id"]] = row["id"]


def pay(store: Store, order_id: int, amount: Decimal | None) -> dict[str, Any]:
    """Cross (part of) the invoice's ledger row with a payment in the invoice's currency; for
    a credit note, the refund paid out. ValueError when that cannot be."""
    row = store.ledger.get(store.ledger_of_order.get(order_id, -1))
    if row is None:
        raise ValueError(f"order {order_id} has no invoice in the customer ledger")
    rest = Decimal(str(row["currencyRestAmount"]))
    if rest == 0:
        raise ValueError(f"invoice of order {order_id} is already settled")
    amount = abs(rest) if amount is None else amount
    if amount <= 0 or amount > abs(rest) or amount != cents(amount):
        raise ValueError(f"amount must be above 0 and at most {abs(rest)} (in øre), got {amount}")
    signed = amount if rest > 0 else -amount
    rate = Decimal(str(row["currencyRate"]))
    left = rest - signed
    row.update(
        {
            "currencyRestAmount": money(left),
            "restAmount": money(left * rate),
            "ledgerState": "crossed" if left == 0 else "partCrossed",
            "rowVersion": store.row_version(),
        }
    )
    today = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00")
    year = int(today[:4])
    payment = _row(
        store,
        {"customerNumber": row["accountNumber"], "name": row["name"]},
        year,
        PAYMENT,
        today,
        -signed * rate,
        row["currencyCode"],
        rate,
    )
    payment.update(
        {
            "voucherNumber": store.voucher_number(year),
            "refNumber": row["refNumber"],
            "kid": row["kid"],
            "ledgerState": "crossed",
            "description": f"Innbetaling {row['description']}",
        }
    )
    store.ledger[payment["id"]] = payment
    return row


def _row(
    store: Store,
    customer: dict[str, Any],
    year: int,
    voucher_type: int,
    day: str,
    amount: Decimal,
    currency: str,
    rate: Decimal,
) -> dict[str, Any]:
    return {
        "id": store.new_id("ledger"),
        "voucherYear": year,
        "voucherNumber": None,
        "voucherDate": day,
        "voucherTypeId": voucher_type,
        "accountingPeriod": int(day[5:7]),
        "accountType": "customer",
        "accountNumber": customer.get("customerNumber"),
        "accountName": customer.get("name"),
        "name": customer.get("name"),
        "amountGross": money(amount),
        "amountNetto": None,
        "currencyCode": None if currency == "NOK" else currency,
        "currencyRate": float(rate),
        "currencyGross": money(amount / rate),
        "restAmount": 0.0,
        "currencyRestAmount": 0.0,
        "ledgerState": "blank",
        "dueDate": None,
        "kid": None,
        "refNumber": None,
        "payType": None,
        "description": None,
        "lineNumber": 1,
        "lockVoucher": False,
        "rowVersion": store.row_version(),
    }


async def list_vouchers(ctx: Ctx) -> Response:
    """GET the voucher report: `filter[voucherYear][EQ]` is required; `ledgerFilter[EQ]`
    picks a ledger (every row here is on a customer account)."""
    items = ctx.request.query_params.multi_items()
    if not any(
        name.lower() == "voucheryear" and op == "EQ" for name, op in parse(items).conditions
    ):
        raise invalid(
            "filter[voucherYear]",
            "A filter on the voucher year is required, e.g. filter[voucherYear][EQ]=2024.",
        )
    ledger = next((v for k, v in items if k.lower() == "ledgerfilter[eq]"), None)
    if ledger is not None and ledger not in LEDGER_FILTERS:
        raise invalid("ledgerFilter", f"ledgerFilter must be one of: {', '.join(LEDGER_FILTERS)}.")
    rows = [] if ledger in ("generalLedger", "supplierLedger") else ctx.store.ledger.values()
    extended = {v.lower() for k, v in items if k.lower() == "extend"}
    if "vouchertype" in extended:
        rows = [
            {
                **row,
                "voucherType": {
                    "key": row["voucherTypeId"],
                    "name": VOUCHER_TYPE_NAMES[row["voucherTypeId"]],
                },
            }
            for row in rows
        ]
    return list_response(ctx, rows, FILTERABLE)


def routes(path: str) -> list[Route]:
    return [("GET", path, list_vouchers)]


def payment_route(current: Callable[[], Store]) -> Callable[[Request], Awaitable[Response]]:
    """`POST /_sim/payments {"invoice_id": "<order id>", "amount": "100.00"}`; no amount pays
    the rest. Answers the invoice's ledger row as the voucher report now shows it."""

    async def handler(request: Request) -> Response:
        try:
            body = await json_object(request)
            if not str(body.get("invoice_id", "")).isdigit():
                raise ValueError("invoice_id must be the invoiced order's id")
            raw = body.get("amount")
            amount = None if raw is None else Decimal(str(raw))
            row = pay(current(), int(body["invoice_id"]), amount)
        except (ValueError, InvalidOperation) as exc:
            return admin_error(
                400,
                f'body must be {{"invoice_id": "<invoiced order id>", '
                f'"amount": "100.00" (optional: the rest)}}: {exc}',
            )
        return json_response(row)

    return handler
