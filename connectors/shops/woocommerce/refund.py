"""A WooCommerce refund as a canonical credit order (schemas.shops.credit for its identity and for
what is refused).

WooCommerce announces refunds on `order.updated` (hook `woocommerce_order_refunded`), but the
order body lists them only as `refunds[{id, reason, total}]` [C, REST v3 orders]: totals, no lines.
The lines are on the refund resource, `GET /wp-json/wc/v3/orders/{order_id}/refunds/{id}` [C, REST
v3 order refunds]: `{id, date_created_gmt, amount, reason, refunded_by, line_items[{id, name,
product_id, quantity, subtotal, subtotal_tax, total, total_tax, taxes[{id, total, subtotal}], sku,
price, meta_data[_refunded_item_id]}], shipping_lines, fee_lines}`, where every quantity and line
amount is negative and `amount` (what went back, tax included) positive. So the pipeline takes
the refund ids from the order body (`woocommerce_refund_ids`), reads each refund and maps it here.

The lines are the order's lines with their signs turned: a refund line is read exactly as
`woocommerce_order` reads an order line (`mapping`: net amounts, VAT rate by tax
rate id or derived from the rounded amounts, empty SKU to the fallback article), shipping and fee
lines likewise. A positive amount where WooCommerce writes negative ones is refused, since we could
not tell what it means. A line with amounts but no units (WooCommerce lets the merchant type a
refund amount on a line without a quantity) is refused like an amount-only refund: crediting it as
one unit would tell the ERP an article came back. The total is checked like an order's: `amount`
must equal the net lines plus their tax within 0.01 per line.

The order may be given as the WooCommerce order body (then its tax rates, customer and number are
read from it; errors in it are named `order.<field>`) or as the canonical order it was mapped to.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.shops.woocommerce.mapping import (
    charge_line,
    order_customer,
    product_line,
    tax_rates,
)
from schemas.order import MAX_LINES, Customer, Order
from schemas.shops import read
from schemas.shops.common import CanonicalLine, checked_total
from schemas.shops.credit import MANUAL, amount_only_refund, credit_order
from schemas.shops.errors import MappingError

ZERO = Decimal("0")
AMOUNT_KEYS = ("quantity", "subtotal", "subtotal_tax", "total", "total_tax")


def woocommerce_refund_ids(order_payload: dict[str, Any]) -> list[str]:
    """The ids of the refunds an order body lists, in its order, each once."""
    root = read.obj(order_payload, "", required=True)
    ids: list[str] = []
    for index, entry in enumerate(read.objects(root.get("refunds"), "refunds", limit=1000)):
        refund_id = read.identifier(entry.get("id"), f"refunds.{index}.id")
        if refund_id not in ids:
            ids.append(refund_id)
    return ids


def woocommerce_refund(
    refund: dict[str, Any], order: dict[str, Any] | Order, *, fallback_sku: str | None
) -> Order:
    """The canonical credit order for one WooCommerce refund resource of `order`; MappingError
    names the field when it cannot be one (see the module docstring)."""
    root = read.obj(refund, "", required=True)
    refund_id = read.identifier(root.get("id"), "id")
    facts = _order_facts(order)
    rates = {**tax_rates(root), **facts.rates}
    groups = {
        key: read.objects(root.get(key), key, limit=MAX_LINES)
        for key in ("line_items", "shipping_lines", "fee_lines")
    }
    count = sum(len(group) for group in groups.values())
    if count > MAX_LINES:
        raise MappingError(
            "line_items",
            f"the refund has {count} lines with shipping and fees; "
            f"at most {MAX_LINES} are supported",
        )
    lines: list[CanonicalLine] = []
    tax = ZERO
    for index, raw in enumerate(groups["line_items"]):
        path = f"line_items.{index}"
        credited = _credited(raw, path)
        if _units_missing(credited, path):
            continue
        lines.append(product_line(credited, path, index, rates, fallback_sku))
        tax += read.money(credited.get("total_tax"), f"{path}.total_tax", default=ZERO)
    for key, name_key, default_name in (
        ("shipping_lines", "method_title", "Shipping"),
        ("fee_lines", "name", "Fee"),
    ):
        for index, raw in enumerate(groups[key]):
            path = f"{key}.{index}"
            credited = _credited(raw, path)
            line = charge_line(credited, path, name_key, default_name, rates)
            line_tax = read.money(credited.get("total_tax"), f"{path}.total_tax", default=ZERO)
            if line.amount or line_tax:
                lines.append(line)
                tax += line_tax
    if not lines:
        stated = root.get("amount") not in (None, "")
        raise amount_only_refund(
            "line_items", read.money(root["amount"], "amount") if stated else None, facts.currency
        )
    amount = read.money(root.get("amount"), "amount")
    return credit_order(
        shop="woocommerce",
        refund_id=refund_id,
        order_id=facts.order_id,
        order_number=facts.number,
        placed_at=read.timestamp(root.get("date_created_gmt"), "date_created_gmt"),
        currency=facts.currency,
        prices_include_vat=False,
        customer=facts.customer,
        lines=lines,
        total=checked_total(lines, amount, "amount", tax),
        paths={"lines": "line_items", "total": "amount"},
    )


@dataclass(frozen=True)
class _OrderFacts:
    """What the credit order takes from the refunded order."""

    order_id: str
    number: str | None
    currency: str
    customer: Customer
    rates: dict[str, Decimal]


def _order_facts(order: dict[str, Any] | Order) -> _OrderFacts:
    if isinstance(order, Order):
        return _OrderFacts(order.external_id, order.number, order.currency, order.customer, {})
    try:
        root = read.obj(order, "", required=True)
        return _OrderFacts(
            read.identifier(root.get("id"), "id"),
            read.text(root.get("number"), "number"),
            read.currency(root.get("currency"), "currency"),
            order_customer(root),
            tax_rates(root),
        )
    except MappingError as exc:
        raise MappingError(f"order.{exc.field}" if exc.field else "order", exc.message) from None


def _credited(raw: dict[str, Any], path: str) -> dict[str, Any]:
    """The refund line with its amounts as positive numbers, the shape an order line has."""
    credited = dict(raw)
    for key in AMOUNT_KEYS:
        if raw.get(key) not in (None, ""):
            credited[key] = _size(raw[key], f"{path}.{key}")
    taxes = read.objects(raw.get("taxes"), f"{path}.taxes", limit=100)
    credited["taxes"] = [
        {
            **entry,
            **{
                key: _size(entry[key], f"{path}.taxes.{index}.{key}")
                for key in ("total", "subtotal")
                if entry.get(key) not in (None, "")
            },
        }
        for index, entry in enumerate(taxes)
    ]
    return credited


def _size(value: Any, field: str) -> str:
    number = read.number(value, field)
    if number > 0:
        raise MappingError(
            field,
            "must not be positive: WooCommerce records what a refund "
            "returns as negative quantities and amounts",
        )
    return str(abs(number))


def _units_missing(credited: dict[str, Any], path: str) -> bool:
    """True for an empty line (nothing returned); MappingError for money without units."""
    if (
        credited.get("quantity") is None
        or read.number(credited["quantity"], f"{path}.quantity") != 0
    ):
        return False
    returned = [
        read.money(credited.get(key), f"{path}.{key}", default=ZERO)
        for key in ("total", "total_tax")
    ]
    if any(returned):
        raise MappingError(
            f"{path}.quantity",
            f"the refund returns {sum(returned, ZERO)} on this "
            f"line without returning any units: {MANUAL}",
        )
    return True
