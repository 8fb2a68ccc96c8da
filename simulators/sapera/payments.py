"""`POST /_sim/payments`: a customer pays (part of) a booked invoice, or the shop pays out (part
of) a credit note - what Sapera's payment registration does to the invoice's remaining amount.

Body `{"invoice_id": <the invoice's id>, "amount": "100.00"}`; without `amount`, the rest. The
amount is always positive: it brings the remaining amount towards zero (from below for a credit
note). A draft can not be paid, nor more than what remains.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from simulators.sapera.money import ZERO, cents, dec, money
from simulators.sapera.options import SaperaSimOptions
from simulators.sapera.salesorders import now
from simulators.sapera.store import Store

USAGE = 'body must be {"invoice_id": "<invoice id>", "amount": "100.00"} (amount optional)'


def pay(store: Store, options: SaperaSimOptions, body: dict[str, Any]) -> dict[str, Any]:
    """The invoice after the payment; ValueError with the reason for a bad request."""
    if "invoice_id" not in body:
        raise ValueError(USAGE)
    invoice = store.invoices.get(_int(body["invoice_id"]))
    if invoice is None:
        raise ValueError(f"no invoice with id {body['invoice_id']!r}; {USAGE}")
    if not invoice["isBooked"]:
        raise ValueError(
            f"invoice {invoice['number']} is a draft: only a booked invoice can be paid"
        )
    remaining = cents(dec(invoice["remainingAmount"]) or ZERO)
    if remaining == 0:
        raise ValueError(f"invoice {invoice['number']} is already paid")
    amount = abs(remaining) if body.get("amount") is None else _amount(body["amount"])
    if amount > abs(remaining):
        raise ValueError(
            f"invoice {invoice['number']}: {amount} is more than the {abs(remaining)} that remains"
        )
    left = abs(remaining) - amount
    invoice["remainingAmount"] = money(left if remaining > 0 else -left)
    invoice["state"] = "Paid" if left == 0 else "PartlyPaid"
    stamp = now()
    invoice["payments"].append({"amount": money(amount), "at": stamp})
    if options.payment_moves_updated_at:
        invoice["updatedAt"] = stamp
    return invoice


def _int(value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"invoice_id {value!r} is not an invoice id; {USAGE}") from None


def _amount(value: Any) -> Decimal:
    try:
        amount = cents(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        raise ValueError(f"amount {value!r} is not a number; {USAGE}") from None
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"amount {value!r} must be above 0")
    return amount
