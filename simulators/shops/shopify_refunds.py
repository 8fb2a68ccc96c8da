"""Refunds in the Shopify simulator: what staff do in the admin ("Refund 2 of 3 items"), recorded
on the order as Shopify records it and described in Shopify's REST Refund shape, which is also
the body of the `refunds/create` webhook (shopify.dev, REST Admin "Refund" resource, 2025-01).

A refund names line items and quantities. Each refund line item carries the refunded `quantity`,
`restock_type`, `subtotal` (the line's discounted price for those units, in the order's tax mode:
tax-inclusive when `taxes_included`) and `total_tax` (their share of the line's tax), as JSON
numbers like Shopify's examples, the exact strings in `subtotal_set` / `total_tax_set`, and the
whole `line_item` as on the order. One `refund` transaction returns the money: the subtotals,
plus the tax when prices exclude it. The order then shows the refund in `refunds`, each line's
`current_quantity` and the `current_total_*` fields reduced, `financial_status`
`partially_refunded` or `refunded`, and a new `updated_at`.

Simplifications (say so where it matters): shipping, duties and order adjustments are never
refunded here (empty lists); the share of a line's discount and tax is proportional to the
units refunded, rounded half up to cents (Shopify's own rounding of partial refunds is not
documented).
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from simulators.shops.common import refund_quantity

if TYPE_CHECKING:
    from simulators.shops.shopify import ShopifySim

CENT = Decimal("0.01")
RESTOCK_TYPES = ("no_restock", "cancel", "return", "legacy_restock")


def make_refund(sim: ShopifySim, order: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Record a refund on `order` and return it; ValueError names what is wrong in `body`."""
    wanted = body.get("refund_line_items")
    if not isinstance(wanted, list) or not wanted:
        raise ValueError(
            'refund_line_items must be a non-empty list of {"line_item_id", "quantity"}'
        )
    currency = order.get("currency") or sim.options.currency
    now = sim.clock.stamp()
    items, subtotal_sum, tax_sum = [], Decimal("0"), Decimal("0")
    for index, request in enumerate(wanted):
        line, quantity, restock = _requested(order, request, index, wanted[:index])
        share = Decimal(quantity) / Decimal(int(line.get("quantity") or 1))
        subtotal = (_line_net(line) * share).quantize(CENT, rounding=ROUND_HALF_UP)
        tax = (_line_tax(line) * share).quantize(CENT, rounding=ROUND_HALF_UP)
        subtotal_sum += subtotal
        tax_sum += tax
        items.append(
            {
                "id": sim.next_refund_line_id,
                "line_item_id": line["id"],
                "location_id": None,
                "quantity": quantity,
                "restock_type": restock,
                "subtotal": float(subtotal),
                "subtotal_set": money_set(subtotal, currency),
                "total_tax": float(tax),
                "total_tax_set": money_set(tax, currency),
                "line_item": copy.deepcopy(line),
            }
        )
        sim.next_refund_line_id += 1
    amount = subtotal_sum + (Decimal("0") if order.get("taxes_included") else tax_sum)
    refund_id = sim.next_refund_id
    sim.next_refund_id += 1
    transaction = {
        "id": sim.next_transaction_id,
        "order_id": order["id"],
        "kind": "refund",
        "gateway": order.get("gateway") or "bogus",
        "status": "success",
        "message": "Bogus Gateway: Forced success",
        "created_at": now,
        "processed_at": now,
        "test": bool(order.get("test")),
        "authorization": None,
        "location_id": None,
        "user_id": None,
        "parent_id": None,
        "device_id": None,
        "error_code": None,
        "source_name": "web",
        "receipt": {},
        "amount": f"{amount:.2f}",
        "currency": currency,
        "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{sim.next_transaction_id}",
    }
    sim.next_transaction_id += 1
    note = body.get("note")
    refund = {
        "id": refund_id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "order_id": order["id"],
        "created_at": now,
        "processed_at": now,
        "note": note if isinstance(note, str) else None,
        "user_id": None,
        "restock": any(item["restock_type"] != "no_restock" for item in items),
        "duties": [],
        "total_duties_set": money_set(Decimal("0"), currency),
        "order_adjustments": [],
        "refund_line_items": items,
        "refund_shipping_lines": [],
        "transactions": [transaction],
    }
    _apply(order, refund, amount, tax_sum, subtotal_sum, now)
    return refund


def refunded_quantity(order: dict[str, Any], line_id: Any) -> int:
    return sum(
        int(item.get("quantity") or 0)
        for refund in order.get("refunds") or []
        for item in refund.get("refund_line_items") or []
        if item.get("line_item_id") == line_id
    )


def money_set(amount: Decimal, currency: str) -> dict[str, Any]:
    money = {"amount": f"{amount:.2f}", "currency_code": currency}
    return {"shop_money": dict(money), "presentment_money": dict(money)}


def _requested(
    order: dict[str, Any], request: Any, index: int, earlier: list[Any]
) -> tuple[dict[str, Any], int, str]:
    where = f"refund_line_items[{index}]"
    if not isinstance(request, dict):
        raise ValueError(f"{where} must be an object")
    line = next(
        (
            line
            for line in order.get("line_items") or []
            if isinstance(line, dict) and str(line.get("id")) == str(request.get("line_item_id"))
        ),
        None,
    )
    if line is None:
        raise ValueError(
            f"{where}.line_item_id {request.get('line_item_id')!r} is not a line "
            f"item of order {order['id']}"
        )
    quantity = refund_quantity(
        where,
        request,
        earlier,
        "line_item_id",
        str(line["id"]),
        lambda: int(line.get("quantity") or 0) - refunded_quantity(order, line["id"]),
    )
    restock = request.get("restock_type", "no_restock")
    if restock not in RESTOCK_TYPES:
        raise ValueError(f"{where}.restock_type must be one of {', '.join(RESTOCK_TYPES)}")
    return line, quantity, str(restock)


def _line_net(line: dict[str, Any]) -> Decimal:
    """The line's price × quantity less its discounts, in the order's tax mode."""
    gross = Decimal(str(line.get("price") or "0")) * int(line.get("quantity") or 0)
    allocations = line.get("discount_allocations")
    if isinstance(allocations, list) and allocations:
        discount = sum(
            (Decimal(str(a.get("amount") or "0")) for a in allocations if isinstance(a, dict)),
            Decimal("0"),
        )
    else:
        discount = Decimal(str(line.get("total_discount") or "0"))
    return gross - discount


def _line_tax(line: dict[str, Any]) -> Decimal:
    return sum(
        (
            Decimal(str(t.get("price") or "0"))
            for t in line.get("tax_lines") or []
            if isinstance(t, dict)
        ),
        Decimal("0"),
    )


def _apply(
    order: dict[str, Any],
    refund: dict[str, Any],
    amount: Decimal,
    tax: Decimal,
    subtotal: Decimal,
    now: str,
) -> None:
    order.setdefault("refunds", []).append(refund)
    for line in order.get("line_items") or []:
        if isinstance(line, dict):
            line["current_quantity"] = int(line.get("quantity") or 0) - refunded_quantity(
                order, line.get("id")
            )

    def reduced(current: str, original: str, by: Decimal) -> str:
        before = Decimal(str(order.get(current, order.get(original)) or "0"))
        return f"{max(Decimal('0'), before - by):.2f}"

    order["current_total_price"] = reduced("current_total_price", "total_price", amount)
    order["current_total_tax"] = reduced("current_total_tax", "total_tax", tax)
    order["current_subtotal_price"] = reduced("current_subtotal_price", "subtotal_price", subtotal)
    everything = all(
        line.get("current_quantity") == 0
        for line in order.get("line_items") or []
        if isinstance(line, dict)
    )
    order["financial_status"] = "refunded" if everything else "partially_refunded"
    order["updated_at"] = now
