"""Exact Online without HTTP: OData quoting and the four documents' wire shapes."""

from __future__ import annotations

import pytest

from connectors.errors import PermanentError
from connectors.exact import mapping, odata
from connectors.exact.settings import ExactSettings
from schemas.order import Order
from tests.support.factories import order, product_line


def settings(**extra: object) -> ExactSettings:
    return ExactSettings(client_id="c", client_secret="s", **extra)


def test_quotes_are_doubled_so_a_reference_matches_only_itself() -> None:
    assert odata.eq("YourRef", "O'Neil' or 1 eq 1") == "YourRef eq 'O''Neil'' or 1 eq 1'"
    assert odata.any_of("Code", ["a", "b'c"]) == "(Code eq 'a' or Code eq 'b''c')"


def test_account_codes_are_right_aligned_in_18() -> None:
    assert mapping.padded_code("1001") == " " * 14 + "1001"
    with pytest.raises(PermanentError):
        mapping.padded_code("x" * 19)


def parsed(**extra: object) -> Order:
    return Order.model_validate(
        order(
            lines=[
                product_line("A", "2", "121.00", "24.20", "0.21"),
                {"type": "text", "text": "Leave at the door"},
                {"type": "shipping", "name": "Verzending", "amount": "12.10", "vat_rate": "0.21"},
            ],
            **extra,
        )
    )


def test_sales_order_lines_need_items() -> None:
    s = settings(send_as="order", shipping_item_code="SHIP", vat_codes={"0.21": "2"})
    body = mapping.document_payload(parsed(), "ref", "acc", {"A": "ia", "SHIP": "is"}, None, s)
    assert body["OrderedBy"] == "acc" and body["YourRef"] == "ref"
    first, shipping = body["SalesOrderLines"]
    assert first == {
        "Item": "ia",
        "Description": "Article A",
        "Quantity": 2.0,
        "UnitPrice": 100.0,
        "Discount": 0.1,
        "VATCode": "2",
    }
    assert shipping["Item"] == "is" and shipping["UnitPrice"] == 10.0
    assert "Leave at the door" in body["Description"]


@pytest.mark.parametrize("mode, kind", [("invoice", 8020), ("direct_invoice", 8023)])
def test_invoices(mode: str, kind: int) -> None:
    s = settings(send_as=mode, shipping_item_code="SHIP", warehouse_id="w-1")
    body = mapping.document_payload(parsed(), "ref", "acc", {"A": "ia", "SHIP": "is"}, None, s)
    assert body["Type"] == kind and body["Journal"] == "70"
    assert ("Warehouse" in body) == (mode == "direct_invoice")
    assert len(body["SalesInvoiceLines"]) == 2


def test_sales_entry_books_amounts_on_the_gl_account_without_items() -> None:
    s = settings(send_as="sales_entry")
    assert mapping.item_specs(parsed(), s) == []
    body = mapping.document_payload(parsed(), "ref", "acc", {}, "gl-8000", s)
    assert body["Customer"] == "acc" and body["Journal"] == "70"
    line = body["SalesEntryLines"][0]
    assert line["GLAccount"] == "gl-8000" and line["Description"].startswith("A ")
    assert line["AmountFC"] == 180.0  # (2 × 121.00 − 24.20) without 21 % VAT


def test_shipping_without_a_shipping_item_is_a_clear_error() -> None:
    with pytest.raises(PermanentError, match="shipping_item_code"):
        mapping.item_specs(parsed(), settings(send_as="order"))


def test_direct_invoice_needs_a_warehouse() -> None:
    with pytest.raises(ValueError, match="warehouse_id"):
        settings(send_as="direct_invoice")
