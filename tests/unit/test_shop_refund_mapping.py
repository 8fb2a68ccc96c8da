"""Shop refunds mapped to canonical credit orders: which lines are credited, at what price and VAT,
shipping, what is refused (amount-only refunds, discrepancies, totals that do not add up), and
that hostile refund payloads end as MappingError naming a field, never another exception.

Samples live in tests/data/shops/refunds/ (a folder of their own, so the order samples listed by
tests.support.payloads stay orders): a Shopify `refunds/create` body refunding two of the three
lines of `shopify_nok_order` with a third line added, and a WooCommerce refund resource for one
coffee and the shipping of `woo_nok_order`.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from connectors.shops.shopify.mapping import shopify_order
from connectors.shops.shopify.refund import shopify_refund
from connectors.shops.woocommerce.mapping import woocommerce_order
from connectors.shops.woocommerce.refund import woocommerce_refund, woocommerce_refund_ids
from schemas.order import Order, ProductLine, ShippingLine
from schemas.shops import MappingError
from tests.support.hostile import DEEP, NASTY, mutate
from tests.support.payloads import load, shopify_nok_order, woo_nok_order

D = Decimal


def shopify_three_line_order() -> dict[str, Any]:
    """`shopify_nok_order` with a third line: three filters at 39.00 with 10 % off (105.30)."""
    payload = shopify_nok_order()
    payload["line_items"].append(load("refunds/shopify_refund_third_line_item"))
    payload.update(current_total_price="1372.50", total_price="1372.50")
    return payload


def original() -> Order:
    return shopify_order(shopify_three_line_order(), fallback_sku=None)


def refund_body() -> dict[str, Any]:
    """Refunds the grinder (900.00) and two of the three filters (70.20): 970.20 returned."""
    return load("refunds/shopify_refunds_create")


def woo_refund_body() -> dict[str, Any]:
    """One coffee (117.00 + 17.55 tax) and the shipping (79.20 + 19.80 tax): 233.55 returned."""
    return load("refunds/woo_refund")


def products(order: Order) -> list[tuple[str, Decimal, Decimal, Decimal, Decimal]]:
    return [
        (line.sku, line.quantity, line.unit_price, line.discount, line.vat_rate)
        for line in order.lines
        if isinstance(line, ProductLine)
    ]


def shipping(order: Order) -> list[tuple[str, Decimal, Decimal]]:
    return [
        (line.name, line.amount, line.vat_rate)
        for line in order.lines
        if isinstance(line, ShippingLine)
    ]


def refused(call: Any, *args: Any, **kwargs: Any) -> MappingError:
    with pytest.raises(MappingError) as caught:
        call(*args, **kwargs)
    return caught.value


def shipping_adjustment(amount: str = "-99.00", tax: str = "-19.80") -> dict[str, Any]:
    return {
        "id": 5501,
        "order_id": 5900000000001,
        "refund_id": 880000000001,
        "amount": amount,
        "tax_amount": tax,
        "kind": "shipping_refund",
        "reason": "Shipping refund",
    }


# --- Shopify ----------------------------------------------------------------------------------


def test_shopify_two_of_three_lines_become_a_credit_order_for_those_lines() -> None:
    credit = shopify_refund(refund_body(), original(), fallback_sku=None)
    assert credit.credit_for == "5900000000001"
    assert credit.external_id == "refund-880000000001"
    assert credit.number == "#1001-R880000000001"
    assert (credit.source, credit.currency, credit.prices_include_vat) == ("shopify", "NOK", True)
    assert products(credit) == [
        ("GRIND-1", D(1), D("1000.00"), D("100.00"), D("0.25")),
        ("FILTER-100", D(2), D("39.00"), D("7.80"), D("0.25")),
    ]
    assert shipping(credit) == []
    assert credit.total == credit.computed_total == D("970.20")
    assert credit.customer == original().customer


def test_shopify_refund_without_the_original_uses_a_stand_in_customer_and_reads_the_mode() -> None:
    credit = shopify_refund(refund_body(), None, fallback_sku=None)
    assert credit.customer.name == "Shopify order 5900000000001"
    assert credit.number == "5900000000001-R880000000001"
    assert credit.currency == "NOK" and credit.prices_include_vat is True  # tax 180 of 900 gross
    assert credit.total == D("970.20")


def test_shopify_refund_of_a_net_price_shop_compares_lines_plus_tax() -> None:
    # Given the grinder alone, sold at 800.00 net plus 25 % by a shop without taxes in its prices
    payload = refund_body()
    del payload["refund_line_items"][1]
    line = payload["refund_line_items"][0]
    line["line_item"].update(price="800.00", discount_allocations=[])
    line["line_item"]["tax_lines"][0]["price"] = "200.00"
    line.update(subtotal=800.0, total_tax=200.0, subtotal_set=None, total_tax_set=None)
    payload["transactions"][0]["amount"] = "1000.00"
    credit = shopify_refund(payload, None, fallback_sku=None)
    assert credit.prices_include_vat is False
    assert credit.total == credit.computed_total == D("800.00")
    payload["transactions"][0]["amount"] = "1010.00"
    error = refused(shopify_refund, payload, None, fallback_sku=None)
    assert error.field == "transactions" and "1010.00" in error.message
    assert "1000.00" in error.message


def test_shopify_shipping_refund_adjustment_becomes_a_shipping_line() -> None:
    payload = refund_body()
    payload["order_adjustments"] = [shipping_adjustment()]
    payload["transactions"][0]["amount"] = "1069.20"
    credit = shopify_refund(payload, original(), fallback_sku=None)
    assert shipping(credit) == [("Bring Pakke til hentested", D("99.00"), D("0.25"))]
    assert credit.total == credit.computed_total == D("1069.20")


def test_shopify_refund_shipping_lines_supersede_the_adjustments() -> None:
    payload = refund_body()
    payload["order_adjustments"] = [shipping_adjustment()]
    payload["refund_shipping_lines"] = [
        {
            "id": 1,
            "shipping_line": {"title": "Bring"},
            "subtotal_amount_set": {"shop_money": {"amount": "99.00", "currency_code": "NOK"}},
            "tax_amount_set": {"shop_money": {"amount": "19.80", "currency_code": "NOK"}},
        }
    ]
    payload["transactions"][0]["amount"] = "1069.20"
    credit = shopify_refund(payload, original(), fallback_sku=None)
    assert shipping(credit) == [("Bring", D("99.00"), D("0.25"))]  # once, not twice
    assert credit.total == D("1069.20")


def test_shopify_shipping_only_refund_is_a_credit_order() -> None:
    payload = refund_body()
    payload.update(refund_line_items=[], order_adjustments=[shipping_adjustment()])
    payload["transactions"][0]["amount"] = "99.00"
    credit = shopify_refund(payload, original(), fallback_sku=None)
    assert products(credit) == [] and credit.total == D("99.00")


def test_shopify_shipping_missing_from_the_body_is_the_originals_when_the_money_says_so() -> None:
    # Given a webhook of API version 2024-10+, which leaves the shipping refund out of the body
    payload = refund_body()
    payload["transactions"][0]["amount"] = "1069.20"
    credit = shopify_refund(payload, original(), fallback_sku=None)
    assert shipping(credit) == [("Bring Pakke til hentested", D("99.00"), D("0.25"))]
    assert credit.total == credit.computed_total == D("1069.20")
    # Any other surplus, or no original to compare with, is refused with both amounts
    payload["transactions"][0]["amount"] = "1000.00"
    error = refused(shopify_refund, payload, original(), fallback_sku=None)
    assert error.field == "transactions"
    assert "1000.00" in error.message and "970.20" in error.message
    payload["transactions"][0]["amount"] = "1069.20"
    assert refused(shopify_refund, payload, None, fallback_sku=None).field == "transactions"


def test_shopify_money_in_another_currency_is_not_compared() -> None:
    payload = refund_body()
    payload["transactions"][0].update(amount="90.00", currency="EUR")
    assert shopify_refund(payload, original(), fallback_sku=None).total == D("970.20")


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.update(refund_line_items=[], order_adjustments=[]),
        lambda p: p.update(
            refund_line_items=[],
            order_adjustments=[
                {
                    "amount": "-50.00",
                    "tax_amount": "0.00",
                    "kind": "refund_discrepancy",
                    "reason": "Refund discrepancy",
                }
            ],
        ),
        lambda p: p.update(refund_line_items=None, transactions=[]),
    ],
)
def test_shopify_amount_only_refund_needs_a_manual_credit_note(change: Any) -> None:
    payload = refund_body()
    change(payload)
    error = refused(shopify_refund, payload, original(), fallback_sku=None)
    assert error.field == "refund_line_items"
    assert "amount-only" in error.message and "by hand" in error.message


def test_shopify_amount_only_message_names_the_money() -> None:
    payload = refund_body()
    payload["refund_line_items"] = []
    assert "970.20 NOK" in refused(shopify_refund, payload, original(), fallback_sku=None).message


def test_shopify_discrepancy_beside_lines_is_refused() -> None:
    payload = refund_body()
    payload["order_adjustments"] = [
        {"amount": "20.00", "tax_amount": "0.00", "reason": "Refund discrepancy"}
    ]  # 2024-10+: no kind
    error = refused(shopify_refund, payload, original(), fallback_sku=None)
    assert error.field == "order_adjustments.0.amount" and "by hand" in error.message


def test_shopify_subtotal_that_disagrees_with_the_lines_is_refused_with_both_sums() -> None:
    payload = refund_body()
    payload["refund_line_items"][1]["subtotal_set"]["shop_money"]["amount"] = "78.00"
    error = refused(shopify_refund, payload, original(), fallback_sku=None)
    assert error.field == "refund_line_items"
    assert "978.00" in error.message and "970.20" in error.message


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda p: p["refund_line_items"][1].update(quantity=4), "refund_line_items.1.quantity"),
        (lambda p: p["refund_line_items"][1].update(quantity=0), "refund_line_items.1.quantity"),
        (
            lambda p: p["refund_line_items"][0].update(line_item=None),
            "refund_line_items.0.line_item",
        ),
        (
            lambda p: p["refund_line_items"][0]["line_item"].update(price="abc"),
            "refund_line_items.0.line_item.price",
        ),
        (
            lambda p: p["refund_line_items"][0]["line_item"].update(sku=""),
            "refund_line_items.0.line_item.sku",
        ),
        (
            lambda p: p["refund_line_items"][0].update(subtotal_set=None, subtotal=None),
            "refund_line_items.0.subtotal",
        ),
        (
            lambda p: p["refund_line_items"][0]["subtotal_set"]["shop_money"].update(
                currency_code="SEK"
            ),
            "refund_line_items.0.subtotal_set",
        ),
        (lambda p: p.update(order_id=5900000000002), "order_id"),
        (lambda p: p.update(id=None), "id"),
        (lambda p: p.update(id="x" * 60), "id"),
        (lambda p: p.update(transactions={"amount": 1}), "transactions"),
    ],
)
def test_shopify_bad_refund_values_are_refused_on_the_shop_field(change: Any, field: str) -> None:
    payload = refund_body()
    change(payload)
    assert refused(shopify_refund, payload, original(), fallback_sku=None).field == field


def test_shopify_simulator_refund_sample_maps_line_for_line() -> None:
    # Given the refunds/create body the Shopify simulator sends (its own sample)
    payload = load("refunds/shopify_refund")
    credit = shopify_refund(payload, None, fallback_sku="FB")
    assert credit.credit_for == str(payload["order_id"])
    assert [line.quantity for line in credit.product_lines] == [
        item["quantity"] for item in payload["refund_line_items"]
    ]
    returned = sum(D(t["amount"]) for t in payload["transactions"] if t["kind"] == "refund")
    assert credit.total == credit.computed_total == returned


def test_shopify_empty_sku_takes_the_fallback_article() -> None:
    payload = refund_body()
    payload["refund_line_items"][0]["line_item"]["sku"] = None
    credit = shopify_refund(payload, original(), fallback_sku="DIVERSE")
    assert products(credit)[0][0] == "DIVERSE" and credit.lines[0].name == "Kaffekvern"


# --- WooCommerce ------------------------------------------------------------------------------


def test_woo_refund_resource_becomes_a_credit_order() -> None:
    credit = woocommerce_refund(woo_refund_body(), woo_nok_order(), fallback_sku=None)
    assert (credit.external_id, credit.credit_for, credit.number) == (
        "refund-731",
        "727",
        "727-R731",
    )
    assert (credit.source, credit.currency, credit.prices_include_vat) == (
        "woocommerce",
        "NOK",
        False,
    )
    assert products(credit) == [("KAFFE-500", D(1), D("117.000000"), D("0"), D("0.15"))]
    assert shipping(credit) == [("Bring Pakke til hentested", D("79.20"), D("0.25"))]
    assert credit.total == credit.computed_total == D("196.20")  # 233.55 − 37.35 tax
    assert credit.customer.name == "Kari Nordmann"


def test_woo_refund_against_the_canonical_original_derives_the_rates() -> None:
    order = woocommerce_order(woo_nok_order(), fallback_sku=None)
    credit = woocommerce_refund(woo_refund_body(), order, fallback_sku=None)
    assert credit.credit_for == "727" and credit.customer == order.customer
    assert products(credit)[0][4] == D("0.15") and shipping(credit)[0][2] == D("0.25")


def test_woo_refund_ids_from_an_order_updated_body() -> None:
    payload = woo_nok_order()
    payload["refunds"] = [
        {"id": 735, "reason": "", "total": "-10.00"},
        {"id": 731, "reason": "Kaffe", "total": "-233.55"},
        {"id": 735, "reason": "", "total": "-10.00"},
    ]
    assert woocommerce_refund_ids(payload) == ["735", "731"]
    assert woocommerce_refund_ids(woo_nok_order()) == []
    assert refused(woocommerce_refund_ids, {"refunds": [{"id": None}]}).field == "refunds.0.id"


def test_woo_amount_only_refund_needs_a_manual_credit_note() -> None:
    payload = woo_refund_body()
    payload.update(line_items=[], shipping_lines=[], amount="10.00")
    error = refused(woocommerce_refund, payload, woo_nok_order(), fallback_sku=None)
    assert error.field == "line_items"
    assert "amount-only refund of 10.00 NOK" in error.message and "by hand" in error.message


def test_woo_amount_on_a_line_without_units_is_refused_and_an_empty_line_skipped() -> None:
    payload = woo_refund_body()
    payload["line_items"][0]["quantity"] = 0
    error = refused(woocommerce_refund, payload, woo_nok_order(), fallback_sku=None)
    assert error.field == "line_items.0.quantity" and "134.55" in error.message
    payload["line_items"][0].update(
        total="0.00", subtotal="0.00", total_tax="0.00", subtotal_tax="0.00", taxes=[]
    )
    payload["amount"] = "99.00"
    credit = woocommerce_refund(payload, woo_nok_order(), fallback_sku=None)
    assert products(credit) == [] and credit.total == D("79.20")


def test_woo_amount_that_disagrees_with_the_lines_is_refused_with_both_sums() -> None:
    payload = woo_refund_body()
    payload["amount"] = "250.00"
    error = refused(woocommerce_refund, payload, woo_nok_order(), fallback_sku=None)
    assert error.field == "amount"
    assert "250.00" in error.message and "196.20" in error.message


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda p: p["line_items"][0].update(total="117.00"), "line_items.0.total"),
        (lambda p: p["line_items"][0].update(quantity=1), "line_items.0.quantity"),
        (
            lambda p: p["line_items"][0]["taxes"][0].update(total="abc"),
            "line_items.0.taxes.0.total",
        ),
        (lambda p: p["line_items"][0].update(sku=""), "line_items.0.sku"),
        (lambda p: p.update(line_items={"0": {}}), "line_items"),
        (lambda p: p.update(id=None), "id"),
        (lambda p: p.update(amount=None), "amount"),
        (lambda p: p.update(date_created_gmt="yesterday"), "date_created_gmt"),
    ],
)
def test_woo_bad_refund_values_are_refused_on_the_shop_field(change: Any, field: str) -> None:
    payload = woo_refund_body()
    change(payload)
    assert refused(woocommerce_refund, payload, woo_nok_order(), fallback_sku=None).field == field


def test_woo_bad_order_body_is_named_as_the_order() -> None:
    order = woo_nok_order()
    order["currency"] = "kroner"
    error = refused(woocommerce_refund, woo_refund_body(), order, fallback_sku=None)
    assert error.field == "order.currency"
    assert refused(woocommerce_refund, woo_refund_body(), None, fallback_sku=None).field == "order"


# --- Hostile payloads -------------------------------------------------------------------------

SEED = 20261110


def _hostile() -> list[tuple[str, Any]]:
    rng = random.Random(SEED)
    cases: list[tuple[str, Any]] = [
        ("none", None),
        ("list", [refund_body()]),
        ("string", "{}"),
        ("empty", {}),
        ("deep", DEEP),
        ("int", 5),
        (
            "s-items-10000",
            {**refund_body(), "refund_line_items": refund_body()["refund_line_items"] * 5000},
        ),
        (
            "w-items-10000",
            {**woo_refund_body(), "line_items": woo_refund_body()["line_items"] * 5000},
        ),
    ]
    for index in range(60):
        cases.append((f"shopify-{index}", mutate(refund_body(), rng)))
        cases.append((f"woo-{index}", mutate(woo_refund_body(), rng)))
    for index, value in enumerate(NASTY):
        payload = refund_body()
        payload["refund_line_items"][1]["line_item"]["quantity"] = value
        cases.append((f"s-nasty-{index}", payload))
        payload = woo_refund_body()
        payload["line_items"][0]["quantity"] = value
        cases.append((f"w-nasty-{index}", payload))
    return cases


HOSTILE = _hostile()


@pytest.mark.parametrize(
    "payload", [case for _, case in HOSTILE], ids=[name for name, _ in HOSTILE]
)
def test_hostile_refunds_map_or_raise_mapping_error(payload: Any) -> None:
    mappers = [
        lambda: shopify_refund(payload, original(), fallback_sku=None),
        lambda: shopify_refund(payload, None, fallback_sku="FB"),
        lambda: woocommerce_refund(payload, woo_nok_order(), fallback_sku=None),
        lambda: woocommerce_refund(payload, original(), fallback_sku="FB"),
        lambda: woocommerce_refund_ids(payload),
    ]
    for mapper in mappers:
        try:
            result = mapper()
        except MappingError as exc:
            assert isinstance(exc.field, str) and exc.message
        else:
            assert isinstance(result, (Order, list))
            if isinstance(result, Order):
                assert result.credit_for and all(line.quantity > 0 for line in result.product_lines)
