"""What every shop refund mapping shares: how a refund is named and built as a credit order.

A shop refund becomes a canonical `Order` with `credit_for` set to the refunded order's external
id and lines with positive quantities for what is credited (see schemas.order). Its identity:

- `external_id` is ``refund-<refund id>``. A shop's refund ids and order ids are separate
  sequences (WooCommerce even stores refunds as posts next to orders), so the bare refund id could
  equal some order's id on the same connection; the prefix keeps the credit order's job, its
  dedupe key and its ERP reference apart from any order's. It also reads as what it is in the
  operator's job list.
- `number` is the original order's number (or id) followed by ``-R<refund id>``: unique per
  refund, so a connection whose `reference_template` uses `{number}` still gives every credit
  note its own reference (the pipeline finds an existing credit note by that reference).

Some refunds cannot be a credit order at all: money returned with nothing to credit (an amount
typed by hand, a goodwill refund). The canonical order needs at least one line and has no negative
or free-amount line, and guessing which article or VAT rate the amount belongs to would put a
wrong credit note in the books, so such a refund is refused with `amount_only_refund`: the intake
answers 4xx / dead-letters it and an operator makes that credit note by hand. Never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from schemas.order import Customer, Order
from schemas.shops import read
from schemas.shops.common import CanonicalLine
from schemas.shops.errors import MappingError

MANUAL = "create this credit note in the ERP by hand"


def credit_external_id(refund_id: str) -> str:
    return f"refund-{refund_id}"


def credit_number(order_number: str | None, order_id: str, refund_id: str) -> str:
    return f"{order_number or order_id}-R{refund_id}"


def stand_in_customer(shop: str, order_id: str) -> Customer:
    """A customer named after the refunded order, for when the original order is not at hand.

    The pipeline credits the customer the original order's job was booked to in the ERP (the
    job knows its ERP customer id), so this one only has to be a valid canonical customer.
    """
    return Customer(name=f"{shop} order {order_id}")


def amount_only_refund(field: str, amount: Decimal | None, currency: str | None) -> MappingError:
    what = (
        f"an amount-only refund of {amount} {currency or ''}".rstrip()
        if amount is not None
        else "an amount-only refund"
    )
    return MappingError(
        field,
        f"the refund credits no line items and no shipping ({what}); "
        f"a credit note cannot be made from an amount alone: {MANUAL}",
    )


def credit_order(
    *,
    shop: str,
    refund_id: str,
    order_id: str,
    order_number: str | None,
    placed_at: datetime | None,
    currency: str,
    prices_include_vat: bool,
    customer: Customer,
    lines: list[CanonicalLine],
    total: Decimal,
    paths: Mapping[str, str],
) -> Order:
    """The canonical credit order; a canonical validation error names the shop field in
    `paths` (canonical name → shop path)."""
    return read.build(
        Order,
        "",
        {"external_id": "id", "credit_for": "order_id", "number": "id", **paths},
        external_id=credit_external_id(refund_id),
        credit_for=order_id,
        number=credit_number(order_number, order_id, refund_id),
        source=shop,
        placed_at=placed_at,
        currency=currency,
        prices_include_vat=prices_include_vat,
        customer=customer,
        lines=lines,
        total=total,
    )
