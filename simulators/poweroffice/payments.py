"""`POST /_sim/payments`: a customer pays an invoice (or is refunded a credit note), in full or
in part, so tests can drive the invoice watch.

Go itself learns of payments from the bank; all an integration sees is `Balance` falling towards
0 and `BalanceLastChangedDateTimeOffset` moving on. So that is all a payment does here. The amount
is a positive sum in the client currency that moves the balance towards 0 whatever its sign (a
credit note's balance is negative by default); more than is left overpays, as a bank can.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from simulators.admin import admin_error, json_object
from simulators.poweroffice.invoices import settle
from simulators.poweroffice.listing import parse_uuid
from simulators.poweroffice.options import PowerOfficeSimOptions
from simulators.poweroffice.problems import ApiError, json_response
from simulators.poweroffice.store import Store, cents, decimal, money

USAGE = (
    'body must be {"invoice_id": "<outgoing invoice uuid>", "amount": "100.00"} '
    "(amount optional: pay the rest)"
)


class BadPayment(ValueError):
    """The payment body cannot be applied; the message says why."""


def payment_route(
    current_store: Callable[[], Store],
    current_options: Callable[[], PowerOfficeSimOptions],
) -> Callable[[Request], Awaitable[Response]]:
    async def pay(request: Request) -> Response:
        store, options = current_store(), current_options()
        settle(store, options)  # an invoice whose send fell due is payable now
        try:
            body = await json_object(request)
            invoice = _invoice(store, body.get("invoice_id"))
            amount = _amount(body.get("amount"), invoice)
        except ValueError as exc:  # BadPayment, or a body that is not a JSON object
            return admin_error(400, f"{exc}; {USAGE}")
        towards_zero = -1 if decimal(invoice["TotalPostedAmount"]) < 0 else 1
        invoice["Balance"] = money(decimal(invoice["Balance"]) - towards_zero * amount)
        invoice["BalanceLastChangedDateTimeOffset"] = store.clock.balance_stamp(
            options.balance_stamp_resolution_seconds
        )
        invoice["LastChangedDateTimeOffset"] = store.clock.stamp()
        return json_response(invoice)

    return pay


def _invoice(store: Store, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, str):
        raise BadPayment("invoice_id is missing or not a string")
    try:
        invoice = store.invoices.get(parse_uuid(raw, "invoice_id"))
    except ApiError:
        raise BadPayment(f"invoice_id {raw!r} is not a uuid") from None
    if invoice is None:
        raise BadPayment(f"no outgoing invoice with id {raw}")
    return invoice


def _amount(raw: Any, invoice: dict[str, Any]) -> Decimal:
    """The positive sum paid; without one, what is left (nothing left is an error)."""
    left = abs(decimal(invoice["Balance"]))
    if raw is None:
        if left == 0:
            raise BadPayment(f"invoice {invoice['InvoiceNo']} has nothing left to pay")
        return left
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise BadPayment("amount must be a decimal string or a number")
    try:
        amount = Decimal(str(raw))
    except InvalidOperation:
        raise BadPayment(f"amount {raw!r} is not a number") from None
    if not amount.is_finite() or amount <= 0 or cents(amount) != amount:
        raise BadPayment(f"amount {raw!r} must be positive with at most two decimals")
    return amount
