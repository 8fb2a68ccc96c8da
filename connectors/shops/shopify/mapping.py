"""A Shopify REST order (webhook body or Orders API) as a canonical order, and its status.

Shopify states what our canonical order needs almost directly (see sources/webshops.md):

- VAT mode: `taxes_included` becomes `prices_include_vat`, and every canonical amount is in that
  mode: `price` is the unit price before discounts, gross iff taxes are included.
- Discounts: Shopify already spreads order-level discount codes over the lines in each line's
  `discount_allocations`; their sum is the line's discount (legacy `total_discount` when the
  allocations are absent). Shipping discounts are inside the shipping line's `discounted_price`.
- VAT rate per line and per shipping line: the sum of its `tax_lines[].rate` (stacked taxes add
  up), 0 when there are none or the line is not taxable.
- Shipping lines become canonical shipping lines with their own rate.
- An empty SKU takes the connection's fallback article (the title stays the line's name); with
  no fallback the order is refused naming the line. No line is dropped silently.
- Customer: the `customer` object, else the billing (then shipping) address name with the order's
  email (guest orders); a billing `company` makes it a company with the person as contact.

The total: the shop's `current_total_price` when present, else `total_price`; see
`schemas.shops.common` for how net and gross orders are compared and what canonical `total` is.
`current_total_price` reflects edits and refunds, so when it is the yardstick the lines are read
in their current state too: a line's `current_quantity` (when given) replaces `quantity`, its
discount shrinking in proportion, lines with current quantity 0 are gone from the order (they are
in neither the current total nor what the customer pays); a shipping line's
`current_discounted_price_set` replaces `discounted_price`, and `current_total_tax` the tax.
Without those fields (older API versions, the classic test notification) the original amounts
are used against `total_price`. Tips, duties and additional fees have no canonical line: an order
carrying them does not add up and is refused, showing both sums.

Status: `paid` when `financial_status` is paid, partially_refunded or refunded (the money was
captured in full; refunds are credit notes, a separate flow); partially_paid, authorized, pending
and voided are not paid. `cancelled` when `cancelled_at` is set. Shopify orders are never drafts
(draft orders are another resource). `test` is the order's `test` flag; test orders are still
mapped, the caller decides what to do with them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from schemas.order import MAX_LINES, Customer, Order, ProductLine, ShippingLine
from schemas.shops import read
from schemas.shops.common import SHOPIFY_ADDRESS, CanonicalLine, Party, address, checked_total
from schemas.shops.common import customer as canonical_customer
from schemas.shops.errors import MappingError
from schemas.shops.status import ShopStatus

PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})
LINE_PATHS = {
    "sku": "sku",
    "name": "title",
    "quantity": "quantity",
    "unit_price": "price",
    "discount": "discount_allocations",
    "vat_rate": "tax_lines",
}


def shopify_order(payload: dict[str, Any], *, fallback_sku: str | None) -> Order:
    """The canonical order for a Shopify order; MappingError names the field when it cannot be."""
    root = read.obj(payload, "", required=True)
    current = root.get("current_total_price") is not None
    total_field = "current_total_price" if current else "total_price"
    prices_include_vat = read.flag(root.get("taxes_included"), "taxes_included")
    lines = _lines(root, current, fallback_sku)
    tax = None if prices_include_vat else _tax(root, current)
    total = checked_total(lines, read.money(root.get(total_field), total_field), total_field, tax)
    return read.build(
        Order,
        "",
        {
            "external_id": "id",
            "number": "name",
            "currency": "currency",
            "placed_at": "processed_at",
            "total": total_field,
            "lines": "line_items",
            "customer": "customer",
        },
        external_id=read.identifier(root.get("id"), "id"),
        number=read.text(root.get("name"), "name"),
        source="shopify",
        placed_at=_placed_at(root),
        currency=read.currency(root.get("currency"), "currency"),
        prices_include_vat=prices_include_vat,
        customer=_customer(root),
        lines=lines,
        total=total,
    )


def shopify_status(payload: dict[str, Any]) -> ShopStatus:
    """What the order's state says (see the module docstring for the rules)."""
    root = read.obj(payload, "", required=True)
    updated_at = read.timestamp(root.get("updated_at"), "updated_at")
    if updated_at is None:
        raise MappingError("updated_at", "is required")
    financial = read.text(root.get("financial_status"), "financial_status")
    return ShopStatus(
        order_id=read.identifier(root.get("id"), "id"),
        updated_at=updated_at,
        paid=financial in PAID_STATUSES,
        cancelled=read.text(root.get("cancelled_at"), "cancelled_at") is not None,
        draft=False,
        test=read.flag(root.get("test"), "test"),
    )


def _lines(root: dict[str, Any], current: bool, fallback_sku: str | None) -> list[CanonicalLine]:
    items = read.objects(root.get("line_items"), "line_items", limit=MAX_LINES)
    shipping = read.objects(root.get("shipping_lines"), "shipping_lines", limit=MAX_LINES)
    if len(items) + len(shipping) > MAX_LINES:
        raise MappingError(
            "line_items",
            f"the order has {len(items) + len(shipping)} lines "
            f"with shipping; at most {MAX_LINES} are supported",
        )
    lines: list[CanonicalLine] = []
    for index, raw in enumerate(items):
        line = _product_line(raw, f"line_items.{index}", index, current, fallback_sku)
        if line is not None:
            lines.append(line)
    if not lines:
        raise MappingError("line_items", "the order has no line items")
    lines.extend(
        _shipping_line(raw, f"shipping_lines.{index}", current)
        for index, raw in enumerate(shipping)
    )
    return lines


def _product_line(
    raw: dict[str, Any], path: str, index: int, current: bool, fallback_sku: str | None
) -> ProductLine | None:
    name = line_name(raw, path)
    ordered = quantity = read.quantity(raw.get("quantity"), f"{path}.quantity")
    if current and raw.get("current_quantity") is not None:
        quantity = read.quantity(
            raw["current_quantity"], f"{path}.current_quantity", allow_zero=True
        )
        if quantity == 0:
            return None
    return priced_line(raw, path, name, f"line {index + 1}", quantity, ordered, fallback_sku)


def priced_line(
    item: dict[str, Any],
    item_path: str,
    name: str,
    label: str,
    quantity: Decimal,
    ordered: Decimal,
    fallback_sku: str | None,
    *,
    path: str | None = None,
    quantity_path: str | None = None,
) -> ProductLine:
    """`quantity` of the `ordered` units of line item `item` (at `item_path`) as a product line:
    the SKU (else the fallback article; without one refused naming the line by `label` and
    `name`), unit price = `price`, and the line's discount, in proportion when fewer units than
    ordered are taken (units refunded or removed take their share), rounded to cents. `path` and
    `quantity_path` name the line and its quantity when they are not the item's own."""
    sku = read.text(item.get("sku"), f"{item_path}.sku", limit=100)
    if sku is None:
        if fallback_sku is None:
            raise MappingError(
                f"{item_path}.sku",
                f"{label} ({name!r}) has no SKU and the connection has no fallback article",
            )
        sku = fallback_sku
    unit_price = read.money(item.get("price"), f"{item_path}.price")
    discount = line_discount(item, item_path)
    if quantity < ordered:
        discount = (discount * quantity / ordered).quantize(read.CENT, rounding=ROUND_HALF_UP)
    if discount > quantity * unit_price:
        raise MappingError(
            f"{item_path}.discount_allocations",
            f"the discount {discount} is larger than the line's price × quantity",
        )
    paths = {key: f"{item_path}.{value}" for key, value in LINE_PATHS.items()}
    if quantity_path is not None:
        paths["quantity"] = quantity_path
    return read.build(
        ProductLine,
        path or item_path,
        paths,
        type="product",
        sku=sku,
        name=name,
        quantity=quantity,
        unit_price=unit_price,
        discount=discount,
        vat_rate=tax_rate(item, item_path),
    )


def line_name(raw: dict[str, Any], path: str) -> str:
    title = read.text(raw.get("title"), f"{path}.title", truncate=True)
    variant = read.text(raw.get("variant_title"), f"{path}.variant_title", truncate=True)
    name = f"{title} - {variant}" if title and variant else title
    name = name or read.text(raw.get("name"), f"{path}.name", truncate=True) or variant
    if name is None:
        raise MappingError(f"{path}.title", "the line has no title")
    return name[:200]


def line_discount(raw: dict[str, Any], path: str) -> Decimal:
    allocations = raw.get("discount_allocations")
    if allocations is None and raw.get("total_discount") is not None:
        return read.money(raw["total_discount"], f"{path}.total_discount")
    return _allocated(allocations, f"{path}.discount_allocations")


def _allocated(allocations: Any, field: str) -> Decimal:
    entries = read.objects(allocations, field, limit=1000)
    return sum(
        (
            read.money(entry.get("amount"), f"{field}.{index}.amount")
            for index, entry in enumerate(entries)
        ),
        Decimal("0"),
    )


def tax_rate(raw: dict[str, Any], path: str) -> Decimal:
    if raw.get("taxable") is False:
        return Decimal("0")
    field = f"{path}.tax_lines"
    entries = read.objects(raw.get("tax_lines"), field, limit=100)
    rates = [
        read.number(entry.get("rate"), f"{field}.{index}.rate")
        for index, entry in enumerate(entries)
        if entry.get("rate") is not None
    ]
    return read.rate_sum(rates, field)


def _shipping_line(raw: dict[str, Any], path: str, current: bool) -> ShippingLine:
    name = (
        read.text(raw.get("title"), f"{path}.title", truncate=True)
        or read.text(raw.get("code"), f"{path}.code", truncate=True)
        or "Shipping"
    )
    now = read.obj(raw.get("current_discounted_price_set"), f"{path}.current_discounted_price_set")
    if current and now:
        field = f"{path}.current_discounted_price_set.shop_money.amount"
        amount = read.money(read.obj(now.get("shop_money"), field).get("amount"), field)
    elif raw.get("discounted_price") is not None:
        amount = read.money(raw["discounted_price"], f"{path}.discounted_price")
    else:
        amount = read.money(raw.get("price"), f"{path}.price") - _allocated(
            raw.get("discount_allocations"), f"{path}.discount_allocations"
        )
        if amount < 0:
            raise MappingError(f"{path}.discount_allocations", "exceed the shipping price")
    paths = {
        "amount": f"{path}.discounted_price",
        "vat_rate": f"{path}.tax_lines",
        "name": f"{path}.title",
    }
    return read.build(
        ShippingLine,
        path,
        paths,
        type="shipping",
        name=name,
        amount=amount,
        vat_rate=tax_rate(raw, path),
    )


def _tax(root: dict[str, Any], current: bool) -> Decimal:
    field = (
        "current_total_tax"
        if current and root.get("current_total_tax") is not None
        else "total_tax"
    )
    return read.money(root.get(field), field, default=Decimal("0"))


def _placed_at(root: dict[str, Any]) -> datetime | None:
    if root.get("processed_at") is not None:
        return read.timestamp(root["processed_at"], "processed_at")
    return read.timestamp(root.get("created_at"), "created_at")


def _customer(root: dict[str, Any]) -> Customer:
    buyer = read.obj(root.get("customer"), "customer")
    billing = read.obj(root.get("billing_address"), "billing_address")
    shipping = read.obj(root.get("shipping_address"), "shipping_address")
    person = read.joined(
        read.text(buyer.get("first_name"), "customer.first_name", truncate=True),
        read.text(buyer.get("last_name"), "customer.last_name", truncate=True),
    )
    for raw, field in ((billing, "billing_address"), (shipping, "shipping_address")):
        person = (
            person
            or read.text(raw.get("name"), f"{field}.name", truncate=True)
            or read.joined(
                read.text(raw.get("first_name"), f"{field}.first_name", truncate=True),
                read.text(raw.get("last_name"), f"{field}.last_name", truncate=True),
            )
        )
    email, email_field = _first(
        (
            (buyer, "email", "customer.email"),
            (root, "email", "email"),
            (root, "contact_email", "contact_email"),
        ),
        limit=254,
    )
    phone, phone_field = _first(
        (
            (buyer, "phone", "customer.phone"),
            (root, "phone", "phone"),
            (billing, "phone", "billing_address.phone"),
        ),
        limit=40,
    )
    party = Party(
        external_id=(
            read.identifier(buyer["id"], "customer.id") if buyer.get("id") is not None else None
        ),
        person=person[:200] if person else None,
        company=read.text(billing.get("company"), "billing_address.company", truncate=True),
        email=email,
        email_field=email_field,
        phone=phone,
        phone_field=phone_field,
        billing=address(billing, "billing_address", SHOPIFY_ADDRESS),
        shipping=address(shipping, "shipping_address", SHOPIFY_ADDRESS),
    )
    return canonical_customer(party, "customer")


def _first(
    candidates: tuple[tuple[dict[str, Any], str, str], ...],
    *,
    limit: int,
) -> tuple[str | None, str]:
    """The first non-empty value among (object, key, path) candidates, with its path."""
    for raw, key, field in candidates:
        found = read.text(raw.get(key), field, limit=limit)
        if found is not None:
            return found, field
    return None, candidates[0][2]
