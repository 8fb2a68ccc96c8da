"""Shopify and WooCommerce orders mapped to the canonical order: amounts, VAT, discounts,
shipping and fees, customers, the total check, fallback articles, and the status reading."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.shops.shopify.mapping import shopify_order, shopify_status
from connectors.shops.woocommerce.mapping import woocommerce_order, woocommerce_status
from schemas.order import Order, ProductLine, ShippingLine
from schemas.shops import MappingError, ShopStatus
from tests.support.payloads import (
    shopify_classic_test_order,
    shopify_current_test_order,
    shopify_nok_order,
    woo_company_order,
    woo_guest_order,
    woo_nok_order,
)

D = Decimal


def product(order: Order, index: int) -> ProductLine:
    line = order.lines[index]
    assert isinstance(line, ProductLine)
    return line


def charge(order: Order, index: int) -> ShippingLine:
    line = order.lines[index]
    assert isinstance(line, ShippingLine)
    return line


def refused(call: Any, payload: Any, **kwargs: Any) -> MappingError:
    with pytest.raises(MappingError) as caught:
        call(payload, **kwargs)
    return caught.value


# --- Shopify ----------------------------------------------------------------------------------


def test_shopify_classic_test_notification_maps_to_its_total() -> None:
    order = shopify_order(shopify_classic_test_order(), fallback_sku=None)
    assert order.external_id == "820982911946154508" and order.number == "#9999"
    assert order.source == "shopify" and order.currency == "USD"
    assert order.prices_include_vat is False
    assert order.placed_at == datetime(2019, 6, 4, 17, 53, 6, tzinfo=UTC)
    assert [(line.sku, line.unit_price, line.discount) for line in order.product_lines] == [
        ("IPOD2008PINK", D("199.00"), D("0")),
        ("IPOD2008PINK", D("199.00"), D("5.00")),
    ]
    assert charge(order, 2).name == "Generic Shipping" and charge(order, 2).amount == D("10.00")
    assert order.total == order.computed_total == D("403.00")  # no tax on top


def test_shopify_test_notification_company_customer() -> None:
    customer = shopify_order(shopify_classic_test_order(), fallback_sku=None).customer
    assert customer.kind == "company" and customer.company_name == "My Company"
    assert customer.name == "John Smith" and customer.external_id == "115310627314723954"
    assert customer.email == "john@test.com"
    assert customer.billing_address is not None
    assert (customer.billing_address.line1, customer.billing_address.country) == (
        "123 Billing Street",
        "US",
    )
    assert customer.shipping_address is not None
    assert customer.shipping_address.postal_code == "40003"


def test_shopify_current_test_notification_is_read_in_its_current_state() -> None:
    # Given the current test body, whose total_price (388.00) does not add up, but whose
    # current_total_price (398.00) does with the shipping line's current price (0.00)
    order = shopify_order(shopify_current_test_order(), fallback_sku=None)
    assert order.total == order.computed_total == D("398.00")
    assert charge(order, 2).amount == D("0.00")
    assert order.customer.email == "john@example.com"


def test_shopify_nok_order_with_two_rates_discount_code_and_taxed_shipping() -> None:
    order = shopify_order(shopify_nok_order(), fallback_sku=None)
    assert order.prices_include_vat is True and order.currency == "NOK"
    grinder, coffee, shipping = product(order, 0), product(order, 1), charge(order, 2)
    assert (
        grinder.sku,
        grinder.quantity,
        grinder.unit_price,
        grinder.discount,
        grinder.vat_rate,
    ) == ("GRIND-1", D(1), D("1000.00"), D("100.00"), D("0.25"))
    assert (coffee.sku, coffee.quantity, coffee.unit_price, coffee.discount, coffee.vat_rate) == (
        "KAFFE-500",
        D(2),
        D("149.00"),
        D("29.80"),
        D("0.15"),
    )
    assert (shipping.name, shipping.amount, shipping.vat_rate) == (
        "Bring Pakke til hentested",
        D("99.00"),
        D("0.25"),
    )
    assert order.total == order.computed_total == D("1267.20")
    assert order.placed_at == datetime(2026, 11, 4, 9, 14, 58, tzinfo=UTC)
    assert order.customer.kind == "person" and order.customer.name == "Kari Nordmann"
    assert order.customer.external_id == "7001"


def test_shopify_prices_without_tax_compare_lines_plus_tax_with_the_total() -> None:
    # Given the NOK order as a net-price shop would send it: the same net lines, tax on top
    payload = shopify_nok_order()
    payload.update(
        taxes_included=False,
        current_total_price=None,
        total_tax="25.00",
        total_price="125.00",
        shipping_lines=[],
    )
    payload["line_items"] = [payload["line_items"][0]]
    payload["line_items"][0].update(price="100.00", discount_allocations=[])
    order = shopify_order(payload, fallback_sku=None)
    assert order.prices_include_vat is False
    assert order.total == order.computed_total == D("100.00")  # canonical total is net
    payload["total_price"] = "126.00"
    error = refused(shopify_order, payload, fallback_sku=None)
    assert error.field == "total_price"
    assert "126.00" in error.message and "100.00" in error.message and "125.00" in error.message


def test_shopify_total_mismatch_is_refused_with_both_sums() -> None:
    payload = shopify_nok_order()
    payload["current_total_price"] = "1267.30"
    error = refused(shopify_order, payload, fallback_sku=None)
    assert error.field == "current_total_price"
    assert "1267.30" in error.message and "1267.20" in error.message


def test_shopify_legacy_total_discount_when_allocations_are_missing() -> None:
    payload = shopify_nok_order()
    for line in payload["line_items"]:
        del line["discount_allocations"]
    order = shopify_order(payload, fallback_sku=None)
    assert [line.discount for line in order.product_lines] == [D("100.00"), D("29.80")]


def test_shopify_shipping_without_discounted_price_subtracts_its_allocations() -> None:
    payload = shopify_nok_order()
    shipping = payload["shipping_lines"][0]
    del shipping["discounted_price"]
    shipping.update(price="149.00", discount_allocations=[{"amount": "50.00"}])
    assert charge(shopify_order(payload, fallback_sku=None), 2).amount == D("99.00")


def test_shopify_untaxable_line_has_rate_zero_and_stacked_rates_add_up() -> None:
    payload = shopify_nok_order()
    payload["line_items"][0]["taxable"] = False
    payload["line_items"][1]["tax_lines"] = [{"rate": 0.05}, {"rate": "0.1"}]
    order = shopify_order(payload, fallback_sku=None)
    assert product(order, 0).vat_rate == 0 and product(order, 1).vat_rate == D("0.15")


@pytest.mark.parametrize("sku", ["", None, "   "])
def test_shopify_empty_sku_uses_the_fallback_article_and_keeps_the_title(sku: Any) -> None:
    payload = shopify_nok_order()
    payload["line_items"][1]["sku"] = sku
    line = product(shopify_order(payload, fallback_sku="DIVERSE"), 1)
    assert (line.sku, line.name, line.unit_price) == ("DIVERSE", "Kaffe 500 g", D("149.00"))


def test_shopify_empty_sku_without_fallback_names_the_line() -> None:
    payload = shopify_nok_order()
    payload["line_items"][1]["sku"] = ""
    error = refused(shopify_order, payload, fallback_sku=None)
    assert error.field == "line_items.1.sku"
    assert "line 2" in error.message and "Kaffe 500 g" in error.message


def test_shopify_guest_order_takes_the_billing_name_and_order_email() -> None:
    payload = shopify_nok_order()
    payload["customer"] = None
    payload["billing_address"]["name"] = "Guest Gjest"
    customer = shopify_order(payload, fallback_sku=None).customer
    assert (customer.name, customer.email, customer.external_id) == (
        "Guest Gjest",
        "kari@example.no",
        None,
    )


def test_shopify_current_quantity_and_removed_lines() -> None:
    # Given an edit that removed one coffee and the grinder since the order was placed
    payload = shopify_nok_order()
    payload["line_items"][0]["current_quantity"] = 0
    payload["line_items"][1]["current_quantity"] = 1
    payload.update(current_total_price="233.10")  # 149.00 − 14.90 + 99.00
    order = shopify_order(payload, fallback_sku=None)
    assert [(line.sku, line.quantity, line.discount) for line in order.product_lines] == [
        ("KAFFE-500", D(1), D("14.90"))
    ]
    assert order.total == D("233.10")


def test_shopify_more_than_500_lines_is_refused() -> None:
    payload = shopify_nok_order()
    payload["line_items"] = payload["line_items"] * 250  # 500 + 1 shipping line
    assert refused(shopify_order, payload, fallback_sku=None).field == "line_items"


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda p: p["line_items"][0].update(price="-1"), "line_items.0.price"),
        (
            lambda p: p["line_items"][0]["discount_allocations"][0].update(amount="2000"),
            "line_items.0.discount_allocations",
        ),
        (lambda p: p["customer"].update(email="not an email"), "customer.email"),
        (lambda p: p["billing_address"].update(country_code="NOR"), "billing_address.country_code"),
        (lambda p: p["line_items"][1]["tax_lines"][0].update(rate=1), "line_items.1.tax_lines"),
        (lambda p: p.update(currency="kroner"), "currency"),
        (lambda p: p.update(id=None), "id"),
    ],
)
def test_shopify_bad_values_are_refused_on_the_shop_field(change: Any, field: str) -> None:
    payload = shopify_nok_order()
    change(payload)
    assert refused(shopify_order, payload, fallback_sku=None).field == field


@pytest.mark.parametrize(
    "financial, cancelled_at, paid, cancelled",
    [
        ("paid", None, True, False),
        ("partially_refunded", None, True, False),
        ("refunded", None, True, False),
        ("partially_paid", None, False, False),
        ("authorized", None, False, False),
        ("pending", None, False, False),
        ("voided", "2026-11-05T08:00:00+01:00", False, True),
        ("paid", "2026-11-05T08:00:00+01:00", True, True),
    ],
)
def test_shopify_status(
    financial: str, cancelled_at: str | None, paid: bool, cancelled: bool
) -> None:
    payload = {**shopify_nok_order(), "financial_status": financial, "cancelled_at": cancelled_at}
    assert shopify_status(payload) == ShopStatus(
        order_id="5900000000001",
        updated_at=datetime(2026, 11, 4, 9, 15, 2, tzinfo=UTC),
        paid=paid,
        cancelled=cancelled,
        draft=False,
        test=False,
    )
    assert shopify_status(shopify_classic_test_order()).test is True


# --- WooCommerce ------------------------------------------------------------------------------


def test_woo_nok_order_with_two_rates_coupon_shipping_and_fee() -> None:
    order = woocommerce_order(woo_nok_order(), fallback_sku=None)
    assert order.prices_include_vat is False and order.number == "727"
    grinder, coffee = product(order, 0), product(order, 1)
    assert (grinder.unit_price, grinder.discount, grinder.vat_rate, grinder.amount) == (
        D("800.00"),
        D("80.00"),
        D("0.25"),
        D("720.00"),
    )
    assert (coffee.quantity, coffee.unit_price, coffee.discount, coffee.vat_rate) == (
        D(2),
        D("130.000000"),
        D("26.00"),
        D("0.15"),
    )
    shipping, fee = charge(order, 2), charge(order, 3)
    assert (shipping.name, shipping.amount, shipping.vat_rate) == (
        "Bring Pakke til hentested",
        D("79.20"),
        D("0.25"),
    )
    assert (fee.name, fee.amount, fee.vat_rate) == ("Gavepapir", D("40.00"), D("0.25"))
    assert order.total == order.computed_total == D("1073.20")  # 1318.10 − 244.90 tax
    assert order.placed_at == datetime(2026, 11, 4, 9, 14, 58, tzinfo=UTC)
    assert (order.customer.kind, order.customer.name, order.customer.external_id) == (
        "person",
        "Kari Nordmann",
        "26",
    )


def test_woo_guest_order_derives_the_rate_and_has_no_customer_id() -> None:
    order = woocommerce_order(woo_guest_order(), fallback_sku=None)
    assert product(order, 0).vat_rate == D("0.25")  # no rate_percent: 25.00 / 100.00
    assert charge(order, 1).amount == 0 and charge(order, 1).vat_rate == 0
    customer = order.customer
    assert (customer.external_id, customer.name, customer.email) == (
        None,
        "Ola Gjest",
        "ola@example.no",
    )
    assert order.total == D("100.00")


def test_woo_company_order() -> None:
    customer = woocommerce_order(woo_company_order(), fallback_sku=None).customer
    assert (customer.kind, customer.company_name, customer.name) == (
        "company",
        "Kaffebrenneriet AS",
        "Per Innkjøp",
    )
    assert customer.display_name == "Kaffebrenneriet AS"


def test_woo_total_mismatch_is_refused_with_both_sums() -> None:
    payload = woo_nok_order()
    payload["total"] = "1320.00"
    error = refused(woocommerce_order, payload, fallback_sku=None)
    assert error.field == "total"
    assert "1320.00" in error.message and "1073.20" in error.message
    assert "1318.10" in error.message  # our sum with the shop's tax


@pytest.mark.parametrize(
    "tax, base, rate",
    [
        ("8.33", "33.33", "0.25"),
        ("0.12", "1.00", "0.12"),
        ("11.10", "100.00", "0.111"),
        ("11.11", "100.00", "0.1111"),
        ("3.50", "23.33", "0.15"),
        ("0", "10.00", "0"),
    ],
)
def test_woo_rate_derived_from_rounded_amounts(tax: str, base: str, rate: str) -> None:
    payload = woo_guest_order()
    line = payload["line_items"][0]
    line.update(subtotal=base, total=base, total_tax=tax, taxes=[])
    payload.update(total=str(D(base) + D(tax)), total_tax=tax)
    assert product(woocommerce_order(payload, fallback_sku=None), 0).vat_rate == D(rate)


def test_woo_fully_discounted_line_takes_its_rate_from_the_subtotal() -> None:
    payload = woo_guest_order()
    payload["line_items"][0].update(total="0.00", total_tax="0.00", taxes=[])
    payload.update(total="0.00", total_tax="0.00")
    line = product(woocommerce_order(payload, fallback_sku=None), 0)
    assert (line.unit_price, line.discount, line.amount, line.vat_rate) == (
        D("100.000000"),
        D("100.00"),
        D("0"),
        D("0.25"),
    )


def test_woo_unit_price_that_does_not_divide_evenly_still_adds_up() -> None:
    payload = woo_guest_order()
    payload["line_items"][0].update(quantity=3, total="100.00")
    order = woocommerce_order(payload, fallback_sku=None)
    assert product(order, 0).unit_price == D("33.333333")
    assert abs(order.computed_total - D("100.00")) < D("0.01")


def test_woo_fully_discounted_fractional_quantity_keeps_six_decimals() -> None:
    payload = woo_guest_order()
    # 1.5 × 66.673333 = 100.0099995 falls short of the subtotal; the discount is capped there
    payload["line_items"][0].update(
        quantity="1.5", subtotal="100.01", total="0.00", total_tax="0.00", taxes=[]
    )
    payload.update(total="0.00", total_tax="0.00")
    line = product(woocommerce_order(payload, fallback_sku=None), 0)
    assert (line.unit_price, line.discount) == (D("66.673333"), D("100.009999"))
    assert line.amount == D("0.0000005")  # within the canonical cent per line


def test_woo_empty_sku_uses_fallback_or_names_the_line() -> None:
    payload = woo_nok_order()
    payload["line_items"][0]["sku"] = ""
    line = product(woocommerce_order(payload, fallback_sku="DIVERSE"), 0)
    assert (line.sku, line.name) == ("DIVERSE", "Kaffekvern")
    error = refused(woocommerce_order, payload, fallback_sku=None)
    assert error.field == "line_items.0.sku" and "line 1" in error.message
    assert "Kaffekvern" in error.message


def test_woo_negative_fee_is_refused() -> None:
    payload = woo_nok_order()
    payload["fee_lines"][0].update(total="-40.00", total_tax="-10.00")
    assert refused(woocommerce_order, payload, fallback_sku=None).field == "fee_lines.0.total"


def test_woo_more_than_500_lines_with_shipping_and_fees_is_refused() -> None:
    payload = woo_nok_order()
    payload["line_items"] = payload["line_items"] * 249  # 498 + 1 shipping + 1 fee = 500
    payload["fee_lines"] = payload["fee_lines"] * 2
    assert refused(woocommerce_order, payload, fallback_sku=None).field == "line_items"


@pytest.mark.parametrize(
    "status, paid, cancelled, draft",
    [
        ("pending", False, False, False),
        ("on-hold", False, False, False),
        ("processing", True, False, False),
        ("completed", True, False, False),
        ("refunded", True, False, False),
        ("failed", False, False, False),
        ("cancelled", False, True, False),
        ("trash", False, True, False),
        ("checkout-draft", False, False, True),
        ("auto-draft", False, False, True),
    ],
)
def test_woo_status(status: str, paid: bool, cancelled: bool, draft: bool) -> None:
    assert woocommerce_status({**woo_nok_order(), "status": status}) == ShopStatus(
        order_id="727",
        updated_at=datetime(2026, 11, 4, 9, 15, 3, tzinfo=UTC),
        paid=paid,
        cancelled=cancelled,
        draft=draft,
        test=False,
    )


def test_woo_status_needs_a_time() -> None:
    payload = {**woo_nok_order(), "date_modified_gmt": None, "date_created_gmt": None}
    assert refused(woocommerce_status, payload).field == "date_modified_gmt"
