"""Shop order payloads for the mapping tests, as factories (a fresh dict per call), and checks
that each payload's own arithmetic is what the shop would have computed.

Shopify's standard test notification for `orders/create` comes in two well-known shapes: the
classic one (2019, `jon@doe.ca`, total 403.00) and the current one (`jon@example.com`, with the
`current_*` fields, whose totals are internally inconsistent: `total_price` 388.00 against lines
of 398.00 plus 10.00 shipping, `current_total_price` 398.00 with the shipping currently 0.00).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def money_set(amount: str, currency: str = "USD") -> dict[str, Any]:
    return {"shop_money": {"amount": amount, "currency_code": currency},
            "presentment_money": {"amount": amount, "currency_code": currency}}


def _ipod(line_id: int, discount: str) -> dict[str, Any]:
    allocations = [] if discount == "0.00" else [
        {"amount": discount, "discount_application_index": 0, "amount_set": money_set(discount)}]
    return {"id": line_id, "variant_id": 808950810, "title": "IPod Nano - 8GB", "quantity": 1,
            "sku": "IPOD2008PINK", "variant_title": None, "vendor": None,
            "fulfillment_service": "manual", "product_id": 632910392, "requires_shipping": True,
            "taxable": True, "gift_card": False, "name": "IPod Nano - 8GB",
            "variant_inventory_management": "shopify", "properties": [], "product_exists": True,
            "fulfillable_quantity": 1, "grams": 567, "price": "199.00",
            "total_discount": discount, "fulfillment_status": None,
            "price_set": money_set("199.00"), "total_discount_set": money_set(discount),
            "discount_allocations": allocations, "tax_lines": []}


def _address(first: str, last: str, street: str, city: str, zip_code: str,
             company: str | None) -> dict[str, Any]:
    return {"first_name": first, "address1": street, "phone": "555-555-SHIP", "city": city,
            "zip": zip_code, "province": "Kentucky", "country": "United States",
            "last_name": last, "address2": None, "company": company, "latitude": None,
            "longitude": None, "name": f"{first} {last}", "country_code": "US",
            "province_code": "KY"}


def _test_customer(email: str) -> dict[str, Any]:
    return {"id": 115310627314723954, "email": email, "accepts_marketing": False,
            "created_at": None, "updated_at": None, "first_name": "John", "last_name": "Smith",
            "state": "disabled", "note": None, "verified_email": True, "tax_exempt": False,
            "phone": None, "tags": "", "currency": "USD",
            "default_address": {"id": 715243470612851245, "customer_id": 115310627314723954,
                                "address1": "123 Elm St.", "city": "Ottawa", "zip": "K2H7A8",
                                "country": "Canada", "country_code": "CA", "default": True}}


def shopify_classic_test_order() -> dict[str, Any]:
    """The classic body of Shopify's "Send test notification" for orders/create."""
    return {
        "id": 820982911946154508, "email": "jon@doe.ca", "closed_at": None,
        "created_at": "2019-06-04T13:53:06-04:00", "updated_at": "2019-06-04T13:53:06-04:00",
        "number": 234, "note": None, "token": "123456abcd", "gateway": None, "test": True,
        "total_price": "403.00", "subtotal_price": "393.00", "total_weight": 0,
        "total_tax": "0.00", "taxes_included": False, "currency": "USD",
        "financial_status": "voided", "confirmed": False, "total_discounts": "5.00",
        "total_line_items_price": "398.00", "cart_token": None, "buyer_accepts_marketing": True,
        "name": "#9999", "referring_site": None, "landing_site": None,
        "cancelled_at": "2019-06-04T13:53:06-04:00", "cancel_reason": "customer",
        "processed_at": None, "phone": None, "customer_locale": "en", "order_number": 1234,
        "discount_applications": [{"type": "manual", "value": "5.0", "value_type": "fixed_amount",
                                   "allocation_method": "one", "target_selection": "explicit",
                                   "target_type": "line_item", "description": "Discount",
                                   "title": "Discount"}],
        "discount_codes": [], "note_attributes": [], "payment_gateway_names": ["visa", "bogus"],
        "processing_method": "", "source_name": "web", "fulfillment_status": "pending",
        "tax_lines": [], "tags": "", "contact_email": "jon@doe.ca",
        "presentment_currency": "USD",
        "total_line_items_price_set": money_set("398.00"),
        "total_discounts_set": money_set("5.00"), "total_shipping_price_set": money_set("10.00"),
        "subtotal_price_set": money_set("393.00"), "total_price_set": money_set("403.00"),
        "total_tax_set": money_set("0.00"),
        "line_items": [_ipod(866550311766439020, "0.00"), _ipod(141249953214522974, "5.00")],
        "shipping_lines": [{"id": 271878346596884015, "title": "Generic Shipping",
                            "price": "10.00", "code": None, "source": "shopify",
                            "discounted_price": "10.00", "price_set": money_set("10.00"),
                            "discounted_price_set": money_set("10.00"),
                            "discount_allocations": [], "tax_lines": []}],
        "billing_address": {**_address("Bob", "Biller", "123 Billing Street", "Billtown",
                                       "K2P0B0", "My Company"), "phone": "555-555-BILL"},
        "shipping_address": _address("Steve", "Shipper", "123 Shipping Street", "Shippington",
                                     "40003", "Shipping Company"),
        "fulfillments": [], "refunds": [], "customer": _test_customer("john@test.com"),
    }


def shopify_current_test_order() -> dict[str, Any]:
    """The current body of the same test notification (API versions with `current_*`)."""
    order = shopify_classic_test_order()
    for key in ("total_discounts_set", "subtotal_price_set", "total_price_set"):
        order.pop(key)
    for line in order["line_items"]:
        line.update(total_discount="0.00", total_discount_set=money_set("0.00"),
                    discount_allocations=[], current_quantity=1, duties=[])
    order["shipping_lines"][0]["current_discounted_price_set"] = money_set("0.00")
    order.update(
        email="jon@example.com", contact_email="jon@example.com",
        created_at="2021-12-31T19:00:00-05:00", updated_at="2021-12-31T19:00:00-05:00",
        processed_at="2021-12-31T19:00:00-05:00", cancelled_at="2021-12-31T19:00:00-05:00",
        total_price="388.00", subtotal_price="388.00", total_discounts="20.00",
        current_subtotal_price="398.00", current_total_price="398.00", current_total_tax="0.00",
        current_total_discounts="0.00", current_shipping_price_set=money_set("0.00"),
        total_outstanding="398.00", discount_applications=[], tags="tag1, tag2",
        billing_address=_address("Steve", "Shipper", "123 Shipping Street", "Shippington",
                                 "40003", "Shipping Company"),
        customer=_test_customer("john@example.com"))
    return order


def _nok_line(line_id: int, sku: str, title: str, price: str, quantity: int, discount: str,
              rate: float, tax: str) -> dict[str, Any]:
    return {"id": line_id, "sku": sku, "title": title, "variant_title": None, "name": title,
            "quantity": quantity, "price": price, "taxable": True, "total_discount": discount,
            "price_set": money_set(price, "NOK"),
            "discount_allocations": [{"amount": discount, "discount_application_index": 0,
                                      "amount_set": money_set(discount, "NOK")}],
            "tax_lines": [{"title": f"MVA {int(rate * 100)} %", "rate": rate, "price": tax,
                           "price_set": money_set(tax, "NOK"), "channel_liable": False}]}


def shopify_nok_order() -> dict[str, Any]:
    """Prices incl. 25 % and 15 % VAT, a 10 % discount code allocated to both lines, and taxed
    shipping: 900.00 + 268.20 + 99.00 = 1267.20, of which VAT 180.00 + 34.98 + 19.80."""
    return {
        "id": 5900000000001, "name": "#1001", "order_number": 1001, "number": 1,
        "email": "kari@example.no", "created_at": "2026-11-04T10:14:58+01:00",
        "processed_at": "2026-11-04T10:14:58+01:00", "updated_at": "2026-11-04T10:15:02+01:00",
        "currency": "NOK", "presentment_currency": "NOK", "taxes_included": True, "test": False,
        "financial_status": "paid", "cancelled_at": None,
        "total_line_items_price": "1298.00", "total_discounts": "129.80",
        "subtotal_price": "1168.20", "total_tax": "234.78", "total_price": "1267.20",
        "current_total_price": "1267.20", "current_total_tax": "234.78",
        "discount_codes": [{"code": "HOST10", "amount": "129.80", "type": "percentage"}],
        "discount_applications": [{"type": "discount_code", "code": "HOST10", "value": "10.0",
                                   "value_type": "percentage", "allocation_method": "across",
                                   "target_selection": "all", "target_type": "line_item"}],
        "line_items": [
            _nok_line(1, "GRIND-1", "Kaffekvern", "1000.00", 1, "100.00", 0.25, "180.00"),
            _nok_line(2, "KAFFE-500", "Kaffe 500 g", "149.00", 2, "29.80", 0.15, "34.98")],
        "shipping_lines": [{"id": 7, "title": "Bring Pakke til hentested", "code": "SERVICEPAKKE",
                            "price": "99.00", "discounted_price": "99.00",
                            "discount_allocations": [],
                            "tax_lines": [{"title": "MVA 25 %", "rate": 0.25, "price": "19.80"}]}],
        "tax_lines": [{"title": "MVA 25 %", "rate": 0.25, "price": "199.80"},
                      {"title": "MVA 15 %", "rate": 0.15, "price": "34.98"}],
        "customer": {"id": 7001, "email": "kari@example.no", "first_name": "Kari",
                     "last_name": "Nordmann", "phone": "+4791234567"},
        "billing_address": {"first_name": "Kari", "last_name": "Nordmann", "name": "Kari Nordmann",
                            "company": None, "address1": "Storgata 1", "address2": None,
                            "zip": "0155", "city": "Oslo", "country": "Norway",
                            "country_code": "NO"},
        "shipping_address": None,
    }


def _woo_tax(rate_id: int, total: str, subtotal: str | None = None) -> dict[str, Any]:
    entry = {"id": rate_id, "total": total}
    return entry if subtotal is None else {**entry, "subtotal": subtotal}


def woo_nok_order() -> dict[str, Any]:
    """Two rates (25 %, 15 %), a 10 % coupon, taxed shipping and a taxed fee; all net:
    720.00 + 234.00 + 79.20 + 40.00 = 1073.20 net, tax 244.90, total 1318.10."""
    return {
        "id": 727, "parent_id": 0, "number": "727", "order_key": "wc_order_58d2d042d1d",
        "created_via": "checkout", "version": "9.4.0", "status": "processing",
        "currency": "NOK", "prices_include_tax": True,
        "date_created": "2026-11-04T10:14:58", "date_created_gmt": "2026-11-04T09:14:58",
        "date_modified": "2026-11-04T10:15:03", "date_modified_gmt": "2026-11-04T09:15:03",
        "date_paid": "2026-11-04T10:15:03", "date_paid_gmt": "2026-11-04T09:15:03",
        "discount_total": "106.00", "discount_tax": "24.90", "shipping_total": "79.20",
        "shipping_tax": "19.80", "cart_tax": "225.10", "total": "1318.10", "total_tax": "244.90",
        "customer_id": 26, "customer_note": "",
        "billing": {"first_name": "Kari", "last_name": "Nordmann", "company": "",
                    "address_1": "Storgata 1", "address_2": "", "city": "Oslo", "state": "",
                    "postcode": "0155", "country": "NO", "email": "kari@example.no",
                    "phone": "+4791234567"},
        "shipping": {"first_name": "Kari", "last_name": "Nordmann", "company": "",
                     "address_1": "Storgata 1", "address_2": "", "city": "Oslo", "state": "",
                     "postcode": "0155", "country": "NO"},
        "payment_method": "vipps", "payment_method_title": "Vipps", "transaction_id": "v-1",
        "line_items": [
            {"id": 315, "name": "Kaffekvern", "product_id": 93, "variation_id": 0, "quantity": 1,
             "tax_class": "", "subtotal": "800.00", "subtotal_tax": "200.00", "total": "720.00",
             "total_tax": "180.00", "taxes": [_woo_tax(1, "180", "200")], "meta_data": [],
             "sku": "GRIND-1", "price": 720},
            {"id": 316, "name": "Kaffe 500 g", "product_id": 22, "variation_id": 0, "quantity": 2,
             "tax_class": "reduced-rate", "subtotal": "260.00", "subtotal_tax": "39.00",
             "total": "234.00", "total_tax": "35.10", "taxes": [_woo_tax(2, "35.1", "39")],
             "meta_data": [], "sku": "KAFFE-500", "price": 117}],
        "tax_lines": [
            {"id": 318, "rate_code": "NO-MVA-1", "rate_id": 1, "label": "MVA", "compound": False,
             "tax_total": "190.00", "shipping_tax_total": "19.80", "rate_percent": 25,
             "meta_data": []},
            {"id": 319, "rate_code": "NO-MVA REDUSERT-2", "rate_id": 2, "label": "MVA redusert",
             "compound": False, "tax_total": "35.10", "shipping_tax_total": "0.00",
             "rate_percent": 15, "meta_data": []}],
        "shipping_lines": [{"id": 317, "method_title": "Bring Pakke til hentested",
                            "method_id": "flat_rate", "total": "79.20", "total_tax": "19.80",
                            "taxes": [_woo_tax(1, "19.8")], "meta_data": []}],
        "fee_lines": [{"id": 320, "name": "Gavepapir", "tax_class": "", "tax_status": "taxable",
                       "total": "40.00", "total_tax": "10.00",
                       "taxes": [_woo_tax(1, "10", "")], "meta_data": []}],
        "coupon_lines": [{"id": 321, "code": "host10", "discount": "106.00",
                          "discount_tax": "24.90", "meta_data": []}],
        "refunds": [], "meta_data": [],
    }


def woo_guest_order() -> dict[str, Any]:
    """A guest (customer_id 0) buying one 25 % article with free shipping; no rate_percent."""
    order = woo_nok_order()
    order.update(customer_id=0, total="125.00", total_tax="25.00", discount_total="0.00",
                 discount_tax="0.00", shipping_total="0.00", shipping_tax="0.00",
                 cart_tax="25.00", fee_lines=[], coupon_lines=[])
    order["billing"].update(first_name="Ola", last_name="Gjest", email="ola@example.no")
    order["line_items"] = [order["line_items"][0]]
    order["line_items"][0].update(subtotal="100.00", subtotal_tax="25.00", total="100.00",
                                  total_tax="25.00", taxes=[_woo_tax(1, "25", "25")])
    order["shipping_lines"] = [{"id": 317, "method_title": "Gratis frakt",
                                "method_id": "free_shipping", "total": "0.00", "total_tax": "0.00",
                                "taxes": [], "meta_data": []}]
    order["tax_lines"] = [{"id": 318, "rate_code": "NO-MVA-1", "rate_id": 1, "label": "MVA",
                           "compound": False, "tax_total": "25.00", "shipping_tax_total": "0.00"}]
    return order


def woo_company_order() -> dict[str, Any]:
    order = woo_nok_order()
    order["billing"].update(company="Kaffebrenneriet AS", first_name="Per", last_name="Innkjøp",
                            email="innkjop@kaffebrenneriet.no")
    return order


# --- the payloads add up the way the shops would have added them -----------------------------

def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def test_shopify_nok_order_adds_up_like_shopify() -> None:
    order = shopify_nok_order()
    gross = sum(_d(line["price"]) * line["quantity"] for line in order["line_items"])
    discounts = sum(_d(line["total_discount"]) for line in order["line_items"])
    assert gross == _d(order["total_line_items_price"])
    assert discounts == _d(order["total_discounts"])
    assert gross - discounts == _d(order["subtotal_price"])
    shipping = _d(order["shipping_lines"][0]["discounted_price"])
    assert _d(order["subtotal_price"]) + shipping == _d(order["total_price"])
    taxes = [_d(tax["price"]) for line in (*order["line_items"], *order["shipping_lines"])
             for tax in line["tax_lines"]]
    assert sum(taxes) == _d(order["total_tax"])


def test_woo_orders_add_up_like_woocommerce() -> None:
    for order in (woo_nok_order(), woo_guest_order(), woo_company_order()):
        charges = [*order["line_items"], *order["shipping_lines"], *order["fee_lines"]]
        net = sum(_d(line["total"]) for line in charges)
        tax = sum(_d(line["total_tax"]) for line in charges)
        assert tax == _d(order["total_tax"])
        assert net + tax == _d(order["total"])
