"""A Shopify refund (the `refunds/create` webhook body: the REST Refund resource) as a canonical
credit order (schemas.shops.credit for its identity and for what is refused).

What the body carries [C, shopify.dev Refund resource and changelogs]: `id`, `order_id`,
`created_at`/`processed_at`, `note`, `refund_line_items[{quantity, subtotal(_set), total_tax(_set),
line_item{sku, title, quantity, price, discount_allocations, tax_lines}}]`, `order_adjustments[
{amount, tax_amount, kind, reason}]` and `transactions[{kind, status, amount, currency}]`. It does
not carry the order's customer, currency setting or `taxes_included`.

The mapping:

- One product line per refunded line item, with the refunded quantity and priced the way
  `shopify_order` prices the order line (`mapping`): unit price = the line's `price`,
  discount = the line's allocated discount in proportion to the refunded units (rounded to cents),
  so the credited amount is what the customer paid for those units; VAT rate from `tax_lines`.
  Refunding more units than the line has is refused.
- Shipping: one shipping line per `refund_shipping_lines` entry (the GraphQL shape, and what a
  simulator or a GraphQL read may hand us), else per order adjustment of kind `shipping_refund`
  (REST before API version 2024-10; amounts there are negative, we take their size). Since
  2024-10 the webhook carries neither [C, changelog "Exposing the order adjustments connection on
  a Refund"]; see the transactions check below.
- Any other order adjustment (a refund discrepancy: the merchant returned a different amount than
  the lines are worth) is refused naming it: the credit note would not match the money.
- VAT mode: the original order's `prices_include_vat`. Without the original it is read off the
  refunded line items' own tax (tax ≈ base × r / (1 + r) means prices include tax); when no line
  tells and tax is involved, the refund is refused rather than guessed.
- Amounts: `refund_line_items[].subtotal` and the shipping amounts are taken to be in the shop's
  VAT mode, like the order's `subtotal_price` (gross when taxes are included) [I, not confirmed on
  a tax-inclusive store]. If that were wrong the totals below would not add up and the refund would
  be refused loudly, never credited wrongly.
- Total: Σ subtotals + shipping (plus their tax when prices exclude VAT) must match our lines
  within 0.01 per line, as `checked_total` checks an order. Then the money actually returned (the
  successful `refund` transactions, when they are in the order's currency) may not exceed it: an
  excess is something refunded that no line shows (shipping on API versions 2024-10+, duties, a
  custom amount). When the original order is known and the excess is exactly its shipping, the
  original's shipping lines are credited (a full shipping refund, the common case); any other
  excess is refused with both amounts.
- Currency: the original's; without it the refund's `shop_money` currency (line subtotals,
  then adjustments), then the transactions'. A refund in another currency than the original is
  refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.shops.shopify.mapping import line_discount, line_name, priced_line, tax_rate
from schemas.order import MAX_LINES, Order, ShippingLine
from schemas.shops import read
from schemas.shops.common import CanonicalLine, checked_total
from schemas.shops.credit import MANUAL, amount_only_refund, credit_order, stand_in_customer
from schemas.shops.errors import MappingError

ZERO = Decimal("0")
ITEMS = "refund_line_items"


@dataclass(frozen=True)
class _Refunded:
    """A credited line with what Shopify says was refunded for it (shop's VAT mode) and its tax."""

    line: CanonicalLine
    stated: Decimal
    tax: Decimal


def shopify_refund(
    payload: dict[str, Any], original: Order | None, *, fallback_sku: str | None
) -> Order:
    """The canonical credit order for a Shopify refund; MappingError names the field when it
    cannot be one (see the module docstring). `original` is the refunded order as mapped when it
    came in (None when not at hand: a stand-in customer, see `stand_in_customer`)."""
    root = read.obj(payload, "", required=True)
    refund_id = read.identifier(root.get("id"), "id")
    order_id = read.identifier(root.get("order_id"), "order_id")
    if original is not None and original.external_id != order_id:
        raise MappingError(
            "order_id",
            f"the refund is for order {order_id}, not for the order "
            f"{original.external_id} it was mapped against",
        )
    items = read.objects(root.get(ITEMS), ITEMS, limit=MAX_LINES)
    shipping = _shipping(root, original)
    if not items and not shipping:
        currency = original.currency if original is not None else _stated_currency(root, [])
        raise amount_only_refund(ITEMS, _money_returned(root, currency), currency)
    if len(items) + len(shipping) > MAX_LINES:
        raise MappingError(
            ITEMS,
            f"the refund has {len(items) + len(shipping)} lines with "
            f"shipping; at most {MAX_LINES} are supported",
        )
    _refuse_discrepancies(root)
    include_vat = _prices_include_vat(items, shipping, original)
    currency = _currency(root, items, original)
    refunded = [_product_line(raw, index, fallback_sku) for index, raw in enumerate(items)]
    refunded.extend(_shipping_line(charge, include_vat) for charge in shipping)
    lines = [entry.line for entry in refunded]
    stated = sum((entry.stated for entry in refunded), ZERO)
    tax = sum((entry.tax for entry in refunded), ZERO)
    if include_vat:
        total = checked_total(lines, stated, ITEMS, None)
    else:
        total = checked_total(lines, stated + tax, ITEMS, tax)
    lines, total = _with_unlisted_shipping(
        root, original, currency, lines, total, total if include_vat else total + tax
    )
    return credit_order(
        shop="shopify",
        refund_id=refund_id,
        order_id=order_id,
        order_number=original.number if original is not None else None,
        placed_at=_refunded_at(root),
        currency=currency,
        prices_include_vat=include_vat,
        customer=original.customer
        if original is not None
        else stand_in_customer("Shopify", order_id),
        lines=lines,
        total=total,
        paths={"currency": "refund_line_items", "lines": ITEMS, "total": ITEMS},
    )


def _product_line(raw: dict[str, Any], index: int, fallback_sku: str | None) -> _Refunded:
    path = f"{ITEMS}.{index}"
    item_path = f"{path}.line_item"
    item = read.obj(raw.get("line_item"), item_path, required=True)
    quantity = read.quantity(raw.get("quantity"), f"{path}.quantity")
    ordered = read.quantity(item.get("quantity"), f"{item_path}.quantity")
    name = line_name(item, item_path)
    if quantity > ordered:
        raise MappingError(
            f"{path}.quantity", f"refunds {quantity} of {name!r} but the order line has {ordered}"
        )
    line = priced_line(
        item,
        item_path,
        name,
        f"refunded line {index + 1}",
        quantity,
        ordered,
        fallback_sku,
        path=path,
        quantity_path=f"{path}.quantity",
    )
    stated = _amount(raw, "subtotal_set", "subtotal", path)
    if stated is None:
        raise MappingError(f"{path}.subtotal", "is required")
    tax = _amount(raw, "total_tax_set", "total_tax", path, default=ZERO) or ZERO
    for value, key in ((stated, "subtotal"), (tax, "total_tax")):
        if value < 0:
            raise MappingError(f"{path}.{key}", "must not be negative")
    return _Refunded(line, stated, tax)


@dataclass(frozen=True)
class _Charge:
    """A refunded shipping amount as Shopify states it (shop's VAT mode), with its tax."""

    name: str
    amount: Decimal
    tax: Decimal
    path: str


def _shipping(root: dict[str, Any], original: Order | None) -> list[_Charge]:
    """Shipping refunds: `refund_shipping_lines` when given (they supersede the adjustments of
    kind shipping_refund that describe the same money), else those adjustments."""
    default = _original_shipping_name(original)
    found = read.objects(
        root.get("refund_shipping_lines"), "refund_shipping_lines", limit=MAX_LINES
    )
    if found:
        charges = []
        for index, raw in enumerate(found):
            path = f"refund_shipping_lines.{index}"
            shipped = read.obj(raw.get("shipping_line"), f"{path}.shipping_line")
            name = read.text(shipped.get("title"), f"{path}.shipping_line.title", truncate=True)
            amount = _amount(raw, "subtotal_amount_set", "subtotal_amount", path)
            if amount is None:
                raise MappingError(f"{path}.subtotal_amount_set", "is required")
            tax = _amount(raw, "tax_amount_set", "tax_amount", path, default=ZERO) or ZERO
            charges.append(_Charge(name or default, abs(amount), abs(tax), path))
        return charges
    charges = []
    for index, raw in _adjustments(root):
        path = f"order_adjustments.{index}"
        if read.text(raw.get("kind"), f"{path}.kind") == "shipping_refund":
            amount = _amount(raw, "amount_set", "amount", path, default=ZERO) or ZERO
            tax = _amount(raw, "tax_amount_set", "tax_amount", path, default=ZERO) or ZERO
            charges.append(_Charge(default, abs(amount), abs(tax), path))
    return charges


def _adjustments(root: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return list(
        enumerate(read.objects(root.get("order_adjustments"), "order_adjustments", limit=MAX_LINES))
    )


def _refuse_discrepancies(root: dict[str, Any]) -> None:
    """Adjustments other than shipping mean the money returned differs from the lines' worth."""
    for index, raw in _adjustments(root):
        path = f"order_adjustments.{index}"
        kind = read.text(raw.get("kind"), f"{path}.kind")
        if kind == "shipping_refund":
            continue
        amount = _amount(raw, "amount_set", "amount", path, default=ZERO) or ZERO
        tax = _amount(raw, "tax_amount_set", "tax_amount", path, default=ZERO) or ZERO
        if amount or tax:
            reason = read.text(raw.get("reason"), f"{path}.reason", truncate=True)
            raise MappingError(
                f"{path}.amount",
                f"the refund returned a different amount than "
                f"its lines are worth (adjustment {amount}, tax "
                f"{tax}, {reason or kind or 'no reason given'}); "
                f"a credit note would not match the money: "
                f"{MANUAL}",
            )


def _shipping_line(charge: _Charge, include_vat: bool) -> _Refunded:
    base = charge.amount - charge.tax if include_vat else charge.amount
    if base < 0:
        raise MappingError(f"{charge.path}.tax_amount", "is larger than the shipping refund")
    line = read.build(
        ShippingLine,
        charge.path,
        {},
        type="shipping",
        name=charge.name,
        amount=charge.amount,
        vat_rate=read.derived_rate(charge.tax, base, f"{charge.path}.tax_amount"),
    )
    return _Refunded(line, charge.amount, charge.tax)


def _original_shipping_name(original: Order | None) -> str:
    names = (
        {line.name for line in original.lines if isinstance(line, ShippingLine)}
        if original is not None
        else set()
    )
    return names.pop() if len(names) == 1 else "Shipping"


def _with_unlisted_shipping(
    root: dict[str, Any],
    original: Order | None,
    currency: str,
    lines: list[CanonicalLine],
    total: Decimal,
    gross: Decimal,
) -> tuple[list[CanonicalLine], Decimal]:
    """Our lines and total, refused when more money went back than they account for; a surplus
    equal to the original order's whole shipping is that shipping (webhooks since 2024-10 leave
    shipping refunds out of the body)."""
    returned = _money_returned(root, currency)
    tolerance = read.CENT * len(lines)
    if returned is None or returned - gross <= tolerance:
        return lines, total
    surplus = returned - gross
    shipping = (
        [line for line in original.lines if isinstance(line, ShippingLine)]
        if original is not None
        else []
    )
    listed = any(isinstance(line, ShippingLine) for line in lines)
    if shipping and not listed and original is not None:
        shipping_gross = sum(
            (
                line.amount
                if original.prices_include_vat
                else (line.amount * (1 + line.vat_rate)).quantize(read.CENT)
                for line in shipping
            ),
            ZERO,
        )
        if abs(surplus - shipping_gross) <= read.CENT * len(shipping):
            return [*lines, *shipping], total + sum((line.amount for line in shipping), ZERO)
    cents = [amount.quantize(read.CENT) for amount in (returned, gross, surplus)]
    raise MappingError(
        "transactions",
        f"{cents[0]} {currency} was refunded but the refunded "
        f"lines and shipping come to {cents[1]}; the difference "
        f"{cents[2]} (shipping, duties, fees or a custom amount) "
        f"is on no line: {MANUAL}",
    )


def _money_returned(root: dict[str, Any], currency: str | None) -> Decimal | None:
    """The successful refund transactions' sum, or None when there are none or they are in
    another currency than `currency` (presentment money; not comparable)."""
    found = None
    entries = read.objects(root.get("transactions"), "transactions", limit=1000)
    for index, raw in enumerate(entries):
        path = f"transactions.{index}"
        if (
            read.text(raw.get("kind"), f"{path}.kind") != "refund"
            or read.text(raw.get("status"), f"{path}.status") != "success"
        ):
            continue
        if (
            raw.get("currency") is not None
            and currency is not None
            and read.currency(raw["currency"], f"{path}.currency") != currency
        ):
            return None
        found = (found or ZERO) + read.money(raw.get("amount"), f"{path}.amount")
    return found


def _prices_include_vat(
    items: list[dict[str, Any]], shipping: list[_Charge], original: Order | None
) -> bool:
    if original is not None:
        return original.prices_include_vat
    for index, raw in enumerate(items):
        path = f"{ITEMS}.{index}.line_item"
        item = read.obj(raw.get("line_item"), path, required=True)
        rate = tax_rate(item, path)
        quantity = read.quantity(item.get("quantity"), f"{path}.quantity")
        base = read.money(item.get("price"), f"{path}.price") * quantity - line_discount(item, path)
        taxes = _order_line_tax(item, path)
        if rate > 0 and base > 0 and taxes > 0:
            return abs(taxes - base * rate / (1 + rate)) < abs(taxes - base * rate)
    item_tax = [
        _amount(raw, "total_tax_set", "total_tax", f"{ITEMS}.{index}", default=ZERO)
        for index, raw in enumerate(items)
    ]
    if any(item_tax) or any(charge.tax for charge in shipping):
        raise MappingError(
            "order_id",
            "without the original order it cannot be told whether the refunded amounts include tax",
        )
    return True  # no tax anywhere: gross and net are the same amounts


def _order_line_tax(item: dict[str, Any], path: str) -> Decimal:
    """The tax the order line carried in all (Σ `tax_lines[].price`)."""
    entries = read.objects(item.get("tax_lines"), f"{path}.tax_lines", limit=100)
    return sum(
        (
            read.money(entry.get("price"), f"{path}.tax_lines.{index}.price", default=ZERO)
            for index, entry in enumerate(entries)
        ),
        ZERO,
    )


def _currency(root: dict[str, Any], items: list[dict[str, Any]], original: Order | None) -> str:
    stated = _stated_currency(root, items)
    if original is None:
        if stated is None:
            raise MappingError(f"{ITEMS}.0.subtotal_set", "the refund states no currency")
        return stated
    if stated is not None and stated != original.currency:
        raise MappingError(
            f"{ITEMS}.0.subtotal_set",
            f"the refund is in {stated}, the order in {original.currency}",
        )
    return original.currency


def _stated_currency(root: dict[str, Any], items: list[dict[str, Any]]) -> str | None:
    sources = [(raw, f"{ITEMS}.{index}", "subtotal_set") for index, raw in enumerate(items)]
    sources += [
        (raw, f"order_adjustments.{index}", "amount_set") for index, raw in _adjustments(root)
    ]
    for raw, path, key in sources:
        money = read.obj(
            read.obj(raw.get(key), f"{path}.{key}").get("shop_money"), f"{path}.{key}.shop_money"
        )
        if money.get("currency_code") is not None:
            return read.currency(money["currency_code"], f"{path}.{key}.shop_money.currency_code")
    for index, raw in enumerate(read.objects(root.get("transactions"), "transactions", limit=1000)):
        if raw.get("currency") is not None:
            return read.currency(raw["currency"], f"transactions.{index}.currency")
    return None


def _amount(
    raw: dict[str, Any], set_key: str, plain_key: str, path: str, default: Decimal | None = None
) -> Decimal | None:
    """A signed amount in shop money: `<set_key>.shop_money.amount`, else `<plain_key>`."""
    money_set = read.obj(raw.get(set_key), f"{path}.{set_key}")
    shop = read.obj(money_set.get("shop_money"), f"{path}.{set_key}.shop_money")
    if shop.get("amount") is not None:
        return read.number(shop["amount"], f"{path}.{set_key}.shop_money.amount")
    if raw.get(plain_key) is not None:
        return read.number(raw[plain_key], f"{path}.{plain_key}")
    return default


def _refunded_at(root: dict[str, Any]) -> datetime | None:
    if root.get("processed_at") is not None:
        return read.timestamp(root["processed_at"], "processed_at")
    return read.timestamp(root.get("created_at"), "created_at")
