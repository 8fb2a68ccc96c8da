"""The shop payload samples (tests/data/shops/, loaded by tests/support/payloads.py) add up the
way the shop would have computed them, and every load is a fresh copy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.support.payloads import (
    load,
    names,
    shopify_nok_order,
    woo_company_order,
    woo_guest_order,
    woo_nok_order,
)


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def test_every_sample_loads_as_a_fresh_dict() -> None:
    assert names() == [
        "shopify_classic_test_order",
        "shopify_current_test_order",
        "shopify_nok_order",
        "woo_company_order",
        "woo_guest_order",
        "woo_nok_order",
    ]
    for name in names():
        first = load(name)
        first["line_items"][0]["sku"] = "MUTATED"
        first["id"] = None
        second = load(name)
        assert isinstance(second, dict)
        assert second["id"] is not None
        assert second["line_items"][0]["sku"] != "MUTATED"


def test_shopify_nok_order_adds_up_like_shopify() -> None:
    order = shopify_nok_order()
    gross = sum(_d(line["price"]) * line["quantity"] for line in order["line_items"])
    discounts = sum(_d(line["total_discount"]) for line in order["line_items"])
    assert gross == _d(order["total_line_items_price"])
    assert discounts == _d(order["total_discounts"])
    assert gross - discounts == _d(order["subtotal_price"])
    shipping = _d(order["shipping_lines"][0]["discounted_price"])
    assert _d(order["subtotal_price"]) + shipping == _d(order["total_price"])
    taxes = [
        _d(tax["price"])
        for line in (*order["line_items"], *order["shipping_lines"])
        for tax in line["tax_lines"]
    ]
    assert sum(taxes) == _d(order["total_tax"])


def test_woo_orders_add_up_like_woocommerce() -> None:
    for order in (woo_nok_order(), woo_guest_order(), woo_company_order()):
        charges = [*order["line_items"], *order["shipping_lines"], *order["fee_lines"]]
        net = sum(_d(line["total"]) for line in charges)
        tax = sum(_d(line["total_tax"]) for line in charges)
        assert tax == _d(order["total_tax"])
        assert net + tax == _d(order["total"])
