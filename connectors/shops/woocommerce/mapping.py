"""A WooCommerce REST v3 order (webhook body or Orders API) as a canonical order, and its status.

WooCommerce stores every line, shipping and fee amount *excluding* tax, whatever
`prices_include_tax` says (see sources/webshops.md), so the canonical order is always net
(`prices_include_vat` False):

- product line: unit price = `subtotal / quantity` (before discounts, rounded to 6 decimals),
  discount = `subtotal − total`: coupons are already spread over the lines by WooCommerce, so
  order-level discounts arrive allocated. A line whose `total` exceeds its `subtotal` (a plugin's
  surcharge) is priced at `total / quantity` without discount.
- VAT rate: the line's `taxes[].id` lead to `tax_lines[].rate_id` and its `rate_percent` / 100
  (stacked rates add up). When a rate has no `rate_percent` (older stores) or is compound, the
  rate is derived from the rounded amounts, `total_tax / total` (for a fully discounted line
  `subtotal_tax / subtotal`): the roundest rate (whole percent, then tenths, then hundredths)
  that reproduces the tax to the cent, so 8.33 on 33.33 reads as 25 %, not 24.99 %.
- shipping lines: canonical shipping lines (`method_title`, `total`, own rate).
- fee lines: a fee is not an article, and the canonical order has no fee type, so a fee becomes
  a canonical *shipping* line (a non-article amount with its own VAT rate) named after the fee.
  Negative fees (discounts entered as fees) have no canonical form and are refused.
- empty SKU: the connection's fallback article, the name kept; no fallback, the order is refused
  naming the line.

The total: WooCommerce's `total` includes tax, so the canonical total is `total − total_tax` and
Σ net lines, shipping and fees must match it within 0.01 per line (schemas.shops.common).

Customer: from `billing` (a billing company makes a company customer with the person as its
contact); `customer_id` 0 is a guest, identified by the billing email, with no external id.

Status: `paid` for the statuses WooCommerce itself counts as paid (processing, completed) and
refunded (paid, then refunded: a credit note, not an unpaid order). Note that WooCommerce sets
cash-on-delivery orders to processing before any money arrives. `cancelled` for cancelled and
trash; failed is not cancelled (WooCommerce lets the customer retry payment). `draft` for
checkout-draft, draft and auto-draft. WooCommerce has no test orders: `test` is always False.
`updated_at` is `date_modified_gmt` (falling back to `date_created_gmt`) read as UTC.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from schemas.order import MAX_LINES, Customer, Order, ProductLine, ShippingLine
from schemas.shops import read
from schemas.shops.common import (
    WOOCOMMERCE_ADDRESS,
    CanonicalLine,
    Party,
    address,
    checked_total,
)
from schemas.shops.common import customer as canonical_customer
from schemas.shops.errors import MappingError
from schemas.shops.status import ShopStatus

PAID_STATUSES = frozenset({"processing", "completed", "refunded"})
CANCELLED_STATUSES = frozenset({"cancelled", "trash"})
DRAFT_STATUSES = frozenset({"checkout-draft", "draft", "auto-draft"})
ZERO = Decimal("0")


def woocommerce_order(payload: dict[str, Any], *, fallback_sku: str | None) -> Order:
    """The canonical order for a WooCommerce order; MappingError names the field when it
    cannot be."""
    root = read.obj(payload, "", required=True)
    lines = _lines(root, tax_rates(root), fallback_sku)
    tax = read.money(root.get("total_tax"), "total_tax", default=ZERO)
    total = checked_total(lines, read.money(root.get("total"), "total"), "total", tax)
    return read.build(
        Order,
        "",
        {
            "external_id": "id",
            "number": "number",
            "currency": "currency",
            "placed_at": "date_created_gmt",
            "total": "total",
            "lines": "line_items",
            "customer": "billing",
        },
        external_id=read.identifier(root.get("id"), "id"),
        number=read.text(root.get("number"), "number"),
        source="woocommerce",
        placed_at=read.timestamp(root.get("date_created_gmt"), "date_created_gmt"),
        currency=read.currency(root.get("currency"), "currency"),
        prices_include_vat=False,
        customer=order_customer(root),
        lines=lines,
        total=total,
    )


def woocommerce_status(payload: dict[str, Any]) -> ShopStatus:
    """What the order's state says (see the module docstring for the rules)."""
    root = read.obj(payload, "", required=True)
    field = "date_modified_gmt" if root.get("date_modified_gmt") else "date_created_gmt"
    updated_at = read.timestamp(root.get(field), field)
    if updated_at is None:
        raise MappingError("date_modified_gmt", "is required")
    status = read.text(root.get("status"), "status")
    status = status.lower() if status else ""
    return ShopStatus(
        order_id=read.identifier(root.get("id"), "id"),
        updated_at=updated_at,
        paid=status in PAID_STATUSES,
        cancelled=status in CANCELLED_STATUSES,
        draft=status in DRAFT_STATUSES,
        test=False,
    )


def tax_rates(root: dict[str, Any]) -> dict[str, Decimal]:
    """Rate id → fraction, for the order's simple (non-compound) rates that state a percent."""
    rates: dict[str, Decimal] = {}
    for index, entry in enumerate(read.objects(root.get("tax_lines"), "tax_lines", limit=1000)):
        if entry.get("rate_id") is None or entry.get("rate_percent") is None:
            continue
        if entry.get("compound") is True:
            continue
        field = f"tax_lines.{index}"
        percent = read.number(entry["rate_percent"], f"{field}.rate_percent")
        rates[read.identifier(entry["rate_id"], f"{field}.rate_id")] = percent / 100
    return rates


def _lines(
    root: dict[str, Any],
    rates: dict[str, Decimal],
    fallback_sku: str | None,
) -> list[CanonicalLine]:
    groups = {
        key: read.objects(root.get(key), key, limit=MAX_LINES)
        for key in ("line_items", "shipping_lines", "fee_lines")
    }
    count = sum(len(group) for group in groups.values())
    if count > MAX_LINES:
        raise MappingError(
            "line_items",
            f"the order has {count} lines with shipping and fees; "
            f"at most {MAX_LINES} are supported",
        )
    if not groups["line_items"]:
        raise MappingError("line_items", "the order has no line items")
    lines: list[CanonicalLine] = [
        product_line(raw, f"line_items.{index}", index, rates, fallback_sku)
        for index, raw in enumerate(groups["line_items"])
    ]
    lines.extend(
        charge_line(raw, f"shipping_lines.{index}", "method_title", "Shipping", rates)
        for index, raw in enumerate(groups["shipping_lines"])
    )
    lines.extend(
        charge_line(raw, f"fee_lines.{index}", "name", "Fee", rates)
        for index, raw in enumerate(groups["fee_lines"])
    )
    return lines


def product_line(
    raw: dict[str, Any], path: str, index: int, rates: dict[str, Decimal], fallback_sku: str | None
) -> ProductLine:
    sku = read.text(raw.get("sku"), f"{path}.sku", limit=100)
    name = read.text(raw.get("name"), f"{path}.name", truncate=True) or sku
    if name is None:
        raise MappingError(f"{path}.name", "the line has no name")
    if sku is None:
        if fallback_sku is None:
            raise MappingError(
                f"{path}.sku",
                f"line {index + 1} ({name!r}) has no SKU and the "
                "connection has no fallback article",
            )
        sku = fallback_sku
    quantity = read.quantity(raw.get("quantity"), f"{path}.quantity")
    total = read.money(raw.get("total"), f"{path}.total")
    subtotal = max(read.money(raw.get("subtotal"), f"{path}.subtotal", default=total), total)
    unit_price = (subtotal / quantity).quantize(read.MICRO)
    discount = min(subtotal - total, (quantity * unit_price).quantize(read.MICRO, ROUND_DOWN))
    paths = {
        "sku": f"{path}.sku",
        "name": f"{path}.name",
        "quantity": f"{path}.quantity",
        "unit_price": f"{path}.subtotal",
        "discount": f"{path}.total",
        "vat_rate": f"{path}.taxes",
    }
    return read.build(
        ProductLine,
        path,
        paths,
        type="product",
        sku=sku,
        name=name,
        quantity=quantity,
        unit_price=unit_price,
        discount=discount,
        vat_rate=_rate(raw, path, rates, total, subtotal),
    )


def charge_line(
    raw: dict[str, Any], path: str, name_key: str, default_name: str, rates: dict[str, Decimal]
) -> ShippingLine:
    """A shipping or fee line: an amount with its own VAT rate and no article."""
    name = read.text(raw.get(name_key), f"{path}.{name_key}", truncate=True) or default_name
    amount = read.number(raw.get("total") if raw.get("total") is not None else "0", f"{path}.total")
    if amount < 0:
        raise MappingError(
            f"{path}.total",
            f"{default_name.lower()} {name!r} is negative; a canonical order has no negative lines",
        )
    return read.build(
        ShippingLine,
        path,
        {"name": f"{path}.{name_key}", "amount": f"{path}.total", "vat_rate": f"{path}.taxes"},
        type="shipping",
        name=name,
        amount=amount,
        vat_rate=_rate(raw, path, rates, amount, amount),
    )


def _rate(
    raw: dict[str, Any], path: str, rates: dict[str, Decimal], total: Decimal, subtotal: Decimal
) -> Decimal:
    field = f"{path}.taxes"
    applied: list[str] = []
    for index, entry in enumerate(read.objects(raw.get("taxes"), field, limit=100)):
        amounts = [
            read.number(entry[key], f"{field}.{index}.{key}")
            for key in ("total", "subtotal")
            if entry.get(key) not in (None, "")
        ]
        if any(amount != 0 for amount in amounts):
            applied.append(read.identifier(entry.get("id"), f"{field}.{index}.id"))
    if applied and all(rate_id in rates for rate_id in applied):
        return read.rate_sum([rates[rate_id] for rate_id in applied], field)
    tax = read.money(raw.get("total_tax"), f"{path}.total_tax", default=ZERO)
    if total > 0:
        return read.derived_rate(tax, total, f"{path}.total_tax")
    subtotal_tax = read.money(raw.get("subtotal_tax"), f"{path}.subtotal_tax", default=ZERO)
    return read.derived_rate(subtotal_tax, subtotal, f"{path}.subtotal_tax")


def order_customer(root: dict[str, Any]) -> Customer:
    billing = read.obj(root.get("billing"), "billing")
    shipping = read.obj(root.get("shipping"), "shipping")
    person = None
    for raw, field in ((billing, "billing"), (shipping, "shipping")):
        person = person or read.joined(
            read.text(raw.get("first_name"), f"{field}.first_name", truncate=True),
            read.text(raw.get("last_name"), f"{field}.last_name", truncate=True),
        )
    party = Party(
        external_id=_customer_id(root.get("customer_id")),
        person=person[:200] if person else None,
        company=read.text(billing.get("company"), "billing.company", truncate=True),
        email=read.text(billing.get("email"), "billing.email", limit=254),
        email_field="billing.email",
        phone=read.text(billing.get("phone"), "billing.phone", limit=40),
        phone_field="billing.phone",
        billing=address(billing, "billing", WOOCOMMERCE_ADDRESS),
        shipping=address(shipping, "shipping", WOOCOMMERCE_ADDRESS),
    )
    return canonical_customer(party, "billing")


def _customer_id(value: Any) -> str | None:
    """The WooCommerce user id as a string; None for guests (0 or absent)."""
    if value is None:
        return None
    found = read.number(value, "customer_id")
    if found < 0 or found != found.to_integral_value():
        raise MappingError("customer_id", "must be a non-negative integer")
    return str(int(found)) if found > 0 else None
