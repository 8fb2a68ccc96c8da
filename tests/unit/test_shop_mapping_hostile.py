"""Hostile shop payloads: every one either maps or raises MappingError, never anything else.

The payloads are generated deterministically (a fixed seed) by mutating valid orders of both
shops, plus hand-written nasty cases: wrong types, nulls where objects belong, huge numbers,
NaN, unicode oddities, deep nesting, ten thousand lines. Each payload goes through the order and
the status function of its shop, and through the other shop's functions for good measure.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from connectors.shops.shopify.mapping import shopify_order, shopify_status
from connectors.shops.woocommerce.mapping import woocommerce_order, woocommerce_status
from schemas.order import Order
from schemas.shops import MappingError, ShopStatus
from tests.support.hostile import DEEP, mutate
from tests.support.payloads import (
    shopify_classic_test_order,
    shopify_current_test_order,
    shopify_nok_order,
    woo_company_order,
    woo_guest_order,
    woo_nok_order,
)

SEED = 20261104
GENERATED_PER_SHOP = 100
BASES: dict[str, list[Callable[[], dict[str, Any]]]] = {
    "shopify": [shopify_classic_test_order, shopify_current_test_order, shopify_nok_order],
    "woocommerce": [woo_nok_order, woo_guest_order, woo_company_order],
}
MAPPERS: list[Callable[..., Any]] = [
    lambda p: shopify_order(p, fallback_sku=None),
    lambda p: shopify_order(p, fallback_sku="FB"),
    shopify_status,
    lambda p: woocommerce_order(p, fallback_sku=None),
    lambda p: woocommerce_order(p, fallback_sku="FB"),
    woocommerce_status,
]


def generated() -> list[tuple[str, Any]]:
    rng = random.Random(SEED)
    cases = []
    for shop, bases in BASES.items():
        for index in range(GENERATED_PER_SHOP):
            cases.append((f"{shop}-{index}", mutate(rng.choice(bases)(), rng)))
    return cases


def _with(
    base: Callable[[], dict[str, Any]], change: Callable[[dict[str, Any]], Any]
) -> dict[str, Any]:
    payload = base()
    change(payload)
    return payload


def hand_written() -> list[tuple[str, Any]]:
    s, w = shopify_nok_order, woo_nok_order
    return [
        ("none", None),
        ("list", [shopify_nok_order()]),
        ("string", "{}"),
        ("empty", {}),
        ("deep-payload", DEEP),
        ("int", 5),
        ("s-10000-lines", _with(s, lambda p: p.update(line_items=p["line_items"] * 5000))),
        ("w-10000-lines", _with(w, lambda p: p.update(line_items=p["line_items"] * 5000))),
        ("s-501-shipping", _with(s, lambda p: p.update(shipping_lines=p["shipping_lines"] * 501))),
        ("s-lines-dict", _with(s, lambda p: p.update(line_items={"0": {}}))),
        ("s-customer-string", _with(s, lambda p: p.update(customer="Kari"))),
        ("s-billing-list", _with(s, lambda p: p.update(billing_address=[]))),
        ("s-rate-one", _with(s, lambda p: p["line_items"][0]["tax_lines"][0].update(rate=1))),
        (
            "s-rate-negative",
            _with(s, lambda p: p["line_items"][0]["tax_lines"][0].update(rate="-0.1")),
        ),
        ("s-tiny-quantity", _with(s, lambda p: p["line_items"][0].update(quantity="1e-7"))),
        ("s-huge-price", _with(s, lambda p: p["line_items"][0].update(price="99999999999.99"))),
        ("s-huge-quantity", _with(s, lambda p: p["line_items"][0].update(quantity=999_999_999))),
        (
            "s-no-names",
            _with(
                s,
                lambda p: p.update(customer={}, billing_address={}, email=None, contact_email=None),
            ),
        ),
        (
            "s-tax-lines-1000",
            _with(s, lambda p: p["line_items"][0].update(tax_lines=[{"rate": 0.0001}] * 1000)),
        ),
        ("s-current-qty-over", _with(s, lambda p: p["line_items"][0].update(current_quantity=5))),
        (
            "s-all-removed",
            _with(s, lambda p: [line.update(current_quantity=0) for line in p["line_items"]]),
        ),
        (
            "s-unicode",
            _with(
                s,
                lambda p: p["line_items"][0].update(
                    title="Ǩåffé ☕ \u202e evil", sku="SKU-\u00e6\u00f8\u00e5"
                ),
            ),
        ),
        ("w-rate-percent-huge", _with(w, lambda p: p["tax_lines"][0].update(rate_percent=10**9))),
        ("w-rate-percent-nan", _with(w, lambda p: p["tax_lines"][0].update(rate_percent="nan"))),
        ("w-quantity-zero", _with(w, lambda p: p["line_items"][0].update(quantity=0))),
        ("w-quantity-tiny", _with(w, lambda p: p["line_items"][0].update(quantity="0.000001"))),
        ("w-customer-id-neg", _with(w, lambda p: p.update(customer_id=-5))),
        ("w-customer-id-float", _with(w, lambda p: p.update(customer_id=1.5))),
        (
            "w-taxes-ids-missing",
            _with(w, lambda p: p["line_items"][0].update(taxes=[{"total": "5"}])),
        ),
        ("w-billing-null", _with(w, lambda p: p.update(billing=None, shipping=None))),
        ("w-no-lines", _with(w, lambda p: p.update(line_items=[]))),
        (
            "w-dates-garbage",
            _with(w, lambda p: p.update(date_modified_gmt="yesterday", date_created_gmt=DEEP)),
        ),
        ("w-status-object", _with(w, lambda p: p.update(status={"x": 1}))),
    ]


CASES = generated() + hand_written()


def test_there_are_at_least_200_hostile_payloads() -> None:
    assert len(CASES) >= 200


@pytest.mark.parametrize("payload", [case for _, case in CASES], ids=[name for name, _ in CASES])
def test_maps_or_raises_mapping_error(payload: Any) -> None:
    for mapper in MAPPERS:
        try:
            result = mapper(payload)
        except MappingError as exc:
            assert isinstance(exc.field, str) and exc.message
            assert str(exc)
        else:
            assert isinstance(result, (Order, ShopStatus))
