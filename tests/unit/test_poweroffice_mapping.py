"""Canonical order → PowerOffice Go wire shapes, without HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.base import ProductSpec, customer_key
from connectors.errors import PermanentError
from connectors.poweroffice import mapping
from connectors.poweroffice.settings import PowerOfficeSettings
from schemas.order import Order
from tests.support.factories import customer, order, product_line

SETTINGS = PowerOfficeSettings(application_key="a", client_key="c", subscription_key="s")


def test_sales_order_lines_are_net_of_vat_with_allowance() -> None:
    parsed = Order.model_validate(
        order(
            lines=[
                product_line("KAFFE-500", "2", "115.00", "23.00", "0.15"),
                {"type": "text", "text": "Gift wrap"},
                {"type": "shipping", "name": "Frakt", "amount": "125.00", "vat_rate": "0.25"},
            ]
        )
    )
    payload = mapping.sales_order_payload(parsed, "ref-1", "42", SETTINGS)
    assert payload["CustomerId"] == 42
    assert payload["ExternalImportReference"] == "ref-1"
    assert payload["SalesOrderStatus"] == "Draft"
    product, text, shipping = payload["SalesOrderLines"]
    assert product == {
        "SortOrder": 0,
        "LineType": "Normal",
        "ProductCode": "KAFFE-500",
        "Description": "Article KAFFE-500",
        "Quantity": 2.0,
        "ProductUnitPrice": 100.0,
        "Allowance": 10.0,
    }
    assert text == {"SortOrder": 1, "LineType": "Text", "Description": "Gift wrap"}
    assert shipping["ProductCode"] == "FRAKT-25" and shipping["ProductUnitPrice"] == 100.0
    assert "VatCode" not in product and "UnitPrice" not in product


def test_prices_without_vat_are_sent_as_they_are() -> None:
    parsed = Order.model_validate(
        order(prices_include_vat=False, lines=[product_line("A", "1", "80.00")])
    )
    line = mapping.sales_order_payload(parsed, "r", "1", SETTINGS)["SalesOrderLines"][0]
    assert line["ProductUnitPrice"] == 80.0


def test_products_needed_include_shipping_per_vat_rate() -> None:
    parsed = Order.model_validate(
        order(
            lines=[
                product_line("A", vat_rate="0.15"),
                product_line("A", vat_rate="0.15"),
                {"type": "shipping", "name": "Frakt", "amount": "99", "vat_rate": "0.25"},
            ]
        )
    )
    specs = mapping.product_specs(parsed, SETTINGS)
    assert [(s.sku, s.vat_rate) for s in specs] == [
        ("A", Decimal("0.15")),
        ("FRAKT-25", Decimal("0.25")),
    ]
    assert mapping.product_payload(specs[0], SETTINGS)["StandardSalesAccount"] == 3030


def test_vat_rate_without_account_is_a_clear_permanent_error() -> None:
    with pytest.raises(PermanentError, match="VAT rate 0.1"):
        mapping.product_payload(ProductSpec("X", "x", Decimal("0.10")), SETTINGS)


def test_existing_article_on_another_vat_account_is_refused() -> None:
    spec = ProductSpec("A", "a", Decimal("0.15"))
    mapping.check_vat_account({"StandardSalesAccount": 3030}, spec, SETTINGS)
    mapping.check_vat_account({"StandardSalesAccount": None}, spec, SETTINGS)
    with pytest.raises(PermanentError, match="article A is on sales account 3000"):
        mapping.check_vat_account({"StandardSalesAccount": 3000}, spec, SETTINGS)


def test_person_and_company_customers() -> None:
    person = Order.model_validate(order()).customer
    payload = mapping.customer_payload(person, customer_key(person))
    assert payload["IsPerson"] is True and payload["FirstName"] == "Kari"
    assert payload["LastName"] == "Nordmann" and payload["ExternalImportReference"] == "id:c-42"
    assert payload["MailAddress"]["ZipCode"] == "0155"
    company = Order.model_validate(
        order(cust={"kind": "company", "company_name": "Fjord AS", "org_number": "999888777"})
    ).customer
    payload = mapping.customer_payload(company, customer_key(company))
    assert payload["Name"] == "Fjord AS" and payload["IsPerson"] is False
    assert payload["OrganizationNumber"] == "999888777"
    assert "MailAddress" not in payload  # Go needs City and ZipCode


def test_customer_patch_only_changed_fields() -> None:
    desired = {
        "EmailAddress": "new@example.no",
        "FirstName": "Kari",
        "MailAddress": {"City": "Bergen", "ZipCode": "5003"},
    }
    existing = {
        "EmailAddress": "old@example.no",
        "FirstName": "Kari",
        "MailAddress": {"City": "Oslo", "ZipCode": "5003"},
    }
    assert mapping.customer_patch(existing, desired) == [
        {"op": "replace", "path": "/EmailAddress", "value": "new@example.no"},
        {"op": "replace", "path": "/MailAddress/City", "value": "Bergen"},
    ]


def test_customer_key_prefers_id_then_email_and_fits_50_chars() -> None:
    c = Order.model_validate(order(cust=customer(external_id=None))).customer
    assert customer_key(c) == "email:kari@example.no"
    long = Order.model_validate(order(cust=customer(external_id="x" * 60))).customer
    assert len(customer_key(long)) <= 50
