"""Refunds in the WooCommerce simulator: what the merchant does on the order screen (Refund →
units per line, the shipping, "Refund manually"), recorded as `wc_create_refund` records it and
shown in the REST v3 "Order refunds" shape (developer.woocommerce.com, REST v3 Order refunds;
WooCommerce core `wc_create_refund`, `WC_REST_Order_Refunds_V2_Controller`).

- A refund is an order of another type (shop_order_refund): its id comes from the orders'
  sequence. Its items are copies of the order's items under new item ids, with
  `_refunded_item_id` meta naming the original, and negative quantity, total, subtotal (equal
  to the total: a refund line carries no discount) and taxes.
- For n of a line's q units the order screen proposes `total × n / q` and each rate's
  `tax × n / q` at WooCommerce's rounding precision (6 decimals); the refund amount is their sum
  rounded to cents. An item's `total_tax` is its taxes rounded to cents each, then added.
  The REST answer prints item amounts to 2 decimals but `taxes[]` as PHP prints the stored float
  ("-19.8"), and `price` as `total / max(1, quantity)` (so -234 for two units at 117).
- Shipping and fees have no units: asking to refund them refunds each such charge in full.
- The refund's `tax_lines` are the order's rates with the refunded (negative) amounts.
- The order lists its refunds newest first as `{id, reason, total: "-<amount>"}`. When the
  order total less all refunds reaches zero (and no free item still has units left) its status
  becomes `refunded` (`woocommerce_order_fully_refunded`).

Refusals (400 from the admin route): an unknown line, more units than are left, a charge
already refunded, nothing to refund, or an amount above what is left ("Invalid refund amount").
Not modelled: payment gateway refunds (`refunded_payment` is false, as for a manual refund),
restocking, amount-only refunds; `refunded_by` is user 1, the site's first administrator.
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from simulators.shops.common import refund_quantity

if TYPE_CHECKING:
    from simulators.shops.woocommerce import WooCommerceSim

CENT = Decimal("0.01")
PRECISION = Decimal("0.000001")  # wc_get_rounding_precision()
ZERO = Decimal("0")
GROUPS = ("line_items", "shipping_lines", "fee_lines")
REFUNDED_ITEM = "_refunded_item_id"
FIELDS = ("line_items", "reason", "refund_shipping", "refund_fees")


def make_refund(
    sim: WooCommerceSim, order: dict[str, Any], body: dict[str, Any], created: dict[str, str]
) -> tuple[dict[str, Any], bool]:
    """Record a refund of `order` as `body` asks and list it on the order; returns the stored
    refund and whether the order is now fully refunded. ValueError says what is wrong."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join(unknown)}; a refund takes {', '.join(FIELDS)}"
        )
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise ValueError("reason must be a string")
    charges: dict[str, bool] = {}
    for key, flag in (("shipping_lines", "refund_shipping"), ("fee_lines", "refund_fees")):
        charges[key] = body.get(flag, False)
        if not isinstance(charges[key], bool):
            raise ValueError(f"{flag} must be true or false")
    wanted = body.get("line_items", [])
    if not isinstance(wanted, list):
        raise ValueError('line_items must be a list of {"id", "quantity"}')
    earlier = refunds_of(sim, order["id"])
    refunded = refunded_units(earlier)
    counter = _ItemIds(sim)
    items: dict[str, list[dict[str, Any]]] = {key: [] for key in GROUPS}
    exact: list[Decimal] = []  # what the order screen adds up, per item, at full precision
    units = 0
    for index, request in enumerate(wanted):
        line, quantity = _requested(order, request, index, wanted[:index], refunded)
        item, returned = _refund_line(line, quantity, counter)
        items["line_items"].append(item)
        exact.append(returned)
        units += quantity
    for key, asked in charges.items():
        for item, returned in _refund_charges(order, key, refunded, counter) if asked else []:
            items[key].append(item)
            exact.append(returned)
    if not any(items.values()):
        raise ValueError("nothing to refund: name line_items or set refund_shipping/refund_fees")
    amount = sum(exact, ZERO).quantize(CENT, ROUND_HALF_UP)
    left = _money(order.get("total")) - sum((_money(r["amount"]) for r in earlier), ZERO)
    if amount > left:
        raise ValueError(
            f"Invalid refund amount: {amount} is more than the {left} left to "
            f"refund on order {order['id']}"
        )
    refund_id = sim.next_id
    sim.next_id += 1
    refund = {
        "parent_id": order["id"],
        "id": refund_id,
        **created,
        "amount": f"{amount:.2f}",
        "reason": reason,
        "refunded_by": 1,
        "refunded_payment": False,
        "meta_data": [],
        "line_items": items["line_items"],
        "shipping_lines": items["shipping_lines"],
        "tax_lines": _tax_lines(order, items, counter),
        "fee_lines": items["fee_lines"],
    }
    sim.refunds[refund_id] = refund
    order["refunds"] = [
        {"id": refund_id, "reason": reason, "total": f"-{amount:.2f}"},
        *(order.get("refunds") or []),
    ]
    units_left = (
        sum(_units(line) for line in _group(order, "line_items"))
        - sum(refunded.get(_id(line), ZERO) for line in _group(order, "line_items"))
        - units
    )
    free_left = units_left > 0 and any(
        _money(line.get("total")) == 0 for line in _group(order, "line_items")
    )
    return refund, left - amount <= 0 and not free_left


def refunds_of(sim: WooCommerceSim, order_id: Any) -> list[dict[str, Any]]:
    """The order's refunds, newest first, as `WC_Order::get_refunds` lists them."""
    return sorted(
        (r for r in sim.refunds.values() if r["parent_id"] == order_id),
        key=lambda r: (r["date_created_gmt"], r["id"]),
        reverse=True,
    )


def refunded_units(refunds: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Original item id → units (products) or amount (charges) refunded so far, positive."""
    done: dict[str, Decimal] = {}
    for refund in refunds:
        for key in GROUPS:
            for item in refund.get(key) or []:
                original = next(
                    (
                        str(meta["value"])
                        for meta in item.get("meta_data") or []
                        if meta.get("key") == REFUNDED_ITEM
                    ),
                    None,
                )
                if original is not None:
                    size = (
                        Decimal(-int(item["quantity"]))
                        if key == "line_items"
                        else -_money(item.get("total"))
                    )
                    done[original] = done.get(original, ZERO) + size
    return done


def resource(sim: WooCommerceSim, refund: dict[str, Any]) -> dict[str, Any]:
    """The REST answer for a stored refund: without its parent id, with its links."""
    base = f"{sim.options.site_url.rstrip('/')}/wp-json/wc/v3/orders/{refund['parent_id']}"
    answer = {key: copy.deepcopy(value) for key, value in refund.items() if key != "parent_id"}
    answer["_links"] = {
        "self": [{"href": f"{base}/refunds/{refund['id']}"}],
        "collection": [{"href": f"{base}/refunds"}],
        "up": [{"href": base}],
    }
    return answer


class _ItemIds:
    """New order item ids: one table holds the items of every order and refund."""

    def __init__(self, sim: WooCommerceSim) -> None:
        known = [
            int(item["id"])
            for record in [*sim.orders.values(), *sim.refunds.values()]
            for key in (*GROUPS, "tax_lines", "coupon_lines")
            for item in record.get(key) or []
            if isinstance(item, dict) and str(item.get("id", "")).isdigit()
        ]
        self.next = max(known, default=0) + 1
        self.sim = sim

    def item(self) -> int:
        self.next += 1
        return self.next - 1

    def meta(self) -> int:
        self.sim.next_meta_id += 1
        return self.sim.next_meta_id - 1


def _requested(
    order: dict[str, Any],
    request: Any,
    index: int,
    earlier: list[Any],
    refunded: dict[str, Decimal],
) -> tuple[dict[str, Any], int]:
    where = f"line_items[{index}]"
    if not isinstance(request, dict):
        raise ValueError(f"{where} must be an object")
    line = next(
        (
            line
            for line in _group(order, "line_items")
            if line.get("id") is not None and _id(line) == str(request.get("id"))
        ),
        None,
    )
    if line is None:
        raise ValueError(
            f"{where}.id {request.get('id')!r} is not a line item of order {order['id']}"
        )
    quantity = refund_quantity(
        where,
        request,
        earlier,
        "id",
        _id(line),
        lambda: _units(line) - refunded.get(_id(line), ZERO),
    )
    return line, quantity


def _refund_line(
    line: dict[str, Any], quantity: int, ids: _ItemIds
) -> tuple[dict[str, Any], Decimal]:
    """The refund item for `quantity` units of `line`, and what it returns with its tax."""
    share = Decimal(quantity) / _units(line)
    net = (_money(line.get("total")) * share).quantize(PRECISION, ROUND_HALF_UP)
    taxes = {
        str(tax["id"]): (_money(tax.get("total")) * share).quantize(PRECISION, ROUND_HALF_UP)
        for tax in line.get("taxes") or []
        if isinstance(tax, dict)
    }
    tax = sum((value.quantize(CENT, ROUND_HALF_UP) for value in taxes.values()), ZERO)
    item = {
        **copy.deepcopy(line),
        "id": ids.item(),
        "quantity": -quantity,
        "subtotal": _cents(-net),
        "subtotal_tax": _cents(-tax),
        "total": _cents(-net),
        "total_tax": _cents(-tax),
        "taxes": [
            {"id": _rate_id(rate), "total": _php(-value), "subtotal": _php(-value)}
            for rate, value in taxes.items()
        ],
        "meta_data": _meta(line, ids),
        "price": float(-net),
    }
    return item, net + sum(taxes.values(), ZERO)


def _refund_charges(
    order: dict[str, Any], key: str, refunded: dict[str, Decimal], ids: _ItemIds
) -> list[tuple[dict[str, Any], Decimal]]:
    """Every shipping (or fee) line of the order refunded in full."""
    what = "shipping" if key == "shipping_lines" else "fees"
    lines = _group(order, key)
    if not lines:
        raise ValueError(f"order {order['id']} has no {what} to refund")
    if any(line.get("id") is None for line in lines):
        raise ValueError(
            f"order {order['id']} has {what} without an item id; place the order "
            "with line ids to refund it"
        )
    if any(_id(line) in refunded for line in lines):
        raise ValueError(f"the {what} of order {order['id']} was already refunded")
    charges = []
    for line in lines:
        taxes = {
            str(tax["id"]): _money(tax.get("total"))
            for tax in line.get("taxes") or []
            if isinstance(tax, dict)
        }
        tax = sum((value.quantize(CENT, ROUND_HALF_UP) for value in taxes.values()), ZERO)
        total = _money(line.get("total"))
        item = {
            **copy.deepcopy(line),
            "id": ids.item(),
            "total": _cents(-total),
            "total_tax": _cents(-tax),
            "taxes": [
                {"id": _rate_id(rate), "total": _php(-value), "subtotal": ""}
                for rate, value in taxes.items()
            ],
            "meta_data": _meta(line, ids),
        }
        charges.append((item, total + sum(taxes.values(), ZERO)))
    return charges


def _tax_lines(
    order: dict[str, Any], items: dict[str, list[dict[str, Any]]], ids: _ItemIds
) -> list[dict[str, Any]]:
    """`WC_Abstract_Order::update_taxes` on the refund: one line per rate used."""
    sums: dict[str, dict[str, Decimal]] = {}
    for key, group in items.items():
        bucket = "shipping_tax_total" if key == "shipping_lines" else "tax_total"
        for item in group:
            for tax in item["taxes"]:
                rate = sums.setdefault(
                    str(tax["id"]), {"tax_total": ZERO, "shipping_tax_total": ZERO}
                )
                rate[bucket] += Decimal(tax["total"])
    known = {str(line.get("rate_id")): line for line in _group(order, "tax_lines")}
    lines = []
    for rate_id, totals in sums.items():
        template = known.get(rate_id, {"rate_code": "", "label": "", "compound": False})
        lines.append(
            {
                **copy.deepcopy(template),
                "id": ids.item(),
                "rate_id": _rate_id(rate_id),
                "tax_total": _cents(totals["tax_total"]),
                "shipping_tax_total": _cents(totals["shipping_tax_total"]),
                "meta_data": [],
            }
        )
    return lines


def _meta(line: dict[str, Any], ids: _ItemIds) -> list[dict[str, Any]]:
    """The original item's meta under new ids, then `_refunded_item_id` (stored as a string)."""
    kept = [
        {**meta, "id": ids.meta()} for meta in line.get("meta_data") or [] if isinstance(meta, dict)
    ]
    return [*kept, {"id": ids.meta(), "key": REFUNDED_ITEM, "value": _id(line)}]


def _group(order: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [line for line in order.get(key) or [] if isinstance(line, dict)]


def _id(line: dict[str, Any]) -> str:
    return str(line.get("id"))


def _units(line: dict[str, Any]) -> Decimal:
    return Decimal(int(line.get("quantity") or 0))


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else ZERO
    except InvalidOperation:
        raise ValueError(f"the order holds an amount that is not a number: {value!r}") from None


def _rate_id(rate: str) -> int | str:
    return int(rate) if rate.isdigit() else rate


def _cents(value: Decimal) -> str:
    """wc_format_decimal(value, 2): rounded half away from zero; never "-0.00"."""
    rounded = value.quantize(CENT, ROUND_HALF_UP)
    return f"{rounded if rounded else ZERO:.2f}"


def _php(value: Decimal) -> str:
    """A stored float as PHP prints it: no trailing zeros ("-19.8", "-20")."""
    return f"{value.normalize():f}" if value else "0"
