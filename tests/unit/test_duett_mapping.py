"""Duett's arithmetic and our mapping onto it, without HTTP: the seed order to the øre in both
price modes, the address rules, VAT codes and the amount checks."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from connectors.base import CreditSource
from connectors.duett.amounts import duett_line, plan_line
from connectors.duett.credit import credit_payload, credited_invoice
from connectors.duett.mapping import (
    address_body,
    check_before_posting,
    customer_body,
    order_payload,
)
from connectors.duett.settings import DuettSettings
from connectors.errors import PermanentError
from schemas.order import Address, Customer, Order
from tests.support.factories import order, product_line

# The seed's example lines: "Item 1" 1 x 80 at 25 %, 712: 4 x 50 with 10 % off at 12 %,
# 6543: 4 x 199 at 25 % (net prices).
SEED = [
    (D("80"), D(1), D(0), D("0.25")),
    (D("50"), D(4), D("20"), D("0.12")),
    (D("199"), D(4), D(0), D("0.25")),
]


def settings(**extra: Any) -> DuettSettings:
    return DuettSettings(integration_key="i", client_key="c", **extra)


def totals(includes_vat: bool, mode: str) -> tuple[D, D, D]:
    plans = [plan_line(p, q, d, r, includes_vat, mode) for p, q, d, r in SEED]  # type: ignore[arg-type]
    return (
        sum((p.expected.net for p in plans), D(0)),
        sum((p.expected.vat for p in plans), D(0)),
        sum((p.expected.gross for p in plans), D(0)),
    )


def test_seed_order_in_a_net_company_adds_up_like_duett() -> None:
    assert totals(False, "net") == (D("1056.00"), D("240.60"), D("1296.60"))


def test_gross_prices_in_a_gross_company_keep_the_shop_total() -> None:
    assert totals(True, "gross") == (D("861.51"), D("194.49"), D("1056.00"))


def test_gross_prices_in_a_net_company_are_converted_to_the_same_gross() -> None:
    assert totals(True, "net")[2] == D("1056.00")


@pytest.mark.parametrize(("discount", "calc"), [(D(10), D("160.00")), (D(60), D("0.00"))])
def test_duett_line_rounds_half_up_and_applies_percent(discount: D, calc: D) -> None:
    # 4 x 50 with a percent equal to an amount discount of 10/unit (capped at the price)
    percent = min(discount, D(50)) / D(50) * 100
    assert duett_line(D(50), D(4), D("0.12"), "net", percent).calc == calc


def test_awkward_prices_still_land_on_the_shop_amount() -> None:
    plan = plan_line(D("33.33"), D(3), D("0.01"), D("0.15"), True, "net")
    assert plan.expected.gross == D("99.98")


def test_norwegian_address_needs_a_postcode_and_abroad_has_none() -> None:
    body = address_body(
        Address(line1="Storgata 1", postal_code="0155", city="Oslo", country="NO"), "x"
    )
    assert (body["zipCodeKey"], body["isForeign"], body["country"]) == ("0155", False, None)
    abroad = address_body(
        Address(line1="Kungsgatan 1", postal_code="111 22", city="Stockholm", country="SE"), "x"
    )
    assert (abroad["zipCodeKey"], abroad["isForeign"], abroad["country"]) == (None, True, "Sverige")
    with pytest.raises(PermanentError, match="postal_code"):
        address_body(Address(line1="Storgata 1", postal_code=None, country="NO"), "x")


def test_company_customer_carries_org_number_and_number_series() -> None:
    company = Customer(
        kind="company",
        company_name="Fjord Kaffe AS",
        org_number="NO 999 888 777 MVA",
        billing_address=Address(line1="Kaia 2", postal_code="5003", city="Bergen", country="NO"),
    )
    body = customer_body(company, "id:c-1", settings(customer_number_series_id=3))
    assert body["organizationNumber"] == "999888777"
    assert body["autoCustomerNumberFromSerieId"] == 3 and body["externalId"] == "id:c-1"


def test_payload_lines_text_serial_shipping_and_direct_invoicing() -> None:
    lines = [
        {"type": "text", "text": "Gift wrap"},
        {**product_line("6543", "2", "199.00", vat_rate="0.25"), "serial_numbers": ["S1", "S2"]},
        {"type": "shipping", "name": "Frakt", "amount": "99.00", "vat_rate": "0.25"},
    ]
    canonical = Order.model_validate(order("W-1", lines=lines, send_invoice=True))
    payload = order_payload(
        canonical,
        "W-1",
        "7",
        {"6543": "11", "FRAKT": "12"},
        settings(serial_skus=["6543"], style_sheet_id=4),
    )
    body = payload.body
    assert body["orderReference"] == "W-1" and body["customerId"] == 7
    assert [ln["lineType"] for ln in body["lines"]] == ["text", "serial", "normal"]
    assert body["lines"][1]["serialNumbers"] == [{"serialNo": "S1"}, {"serialNo": "S2"}]
    assert body["lines"][1]["taxSaleId"] == "vat" and body["lines"][2]["articleId"] == 12
    assert body["config"] == {"directInvoicing": True, "styleSheetId": 4, "sendMethod": None}


def test_a_vat_rate_without_a_duett_code_names_the_rate() -> None:
    canonical = Order.model_validate(order("W-2", lines=[product_line("A", vat_rate="0.10")]))
    with pytest.raises(PermanentError, match=r"VAT rate 0.1 has no Duett tax code"):
        order_payload(canonical, "W-2", "1", {"A": "1"}, settings())


def test_a_difference_above_a_cent_is_refused_before_posting() -> None:
    canonical = Order.model_validate(order("W-3", lines=[product_line("A", "3", "33.33")]))
    payload = order_payload(canonical, "W-3", "1", {"A": "1"}, settings())
    check_before_posting(canonical, payload.planned, "net")  # lands exactly
    wrong = payload.planned[0].__class__(
        0, "lines.0 (A)", D("50.00"), payload.planned[0].plan, True
    )
    with pytest.raises(
        PermanentError,
        match=r"lines.0 \(A\): Duett would compute 99.99, the "
        r"shop charged 50.00",
    ):
        check_before_posting(canonical, [wrong], "net")


def test_credit_payload_signs_lines_names_the_invoice_and_reads_it_back() -> None:
    canonical = Order.model_validate(
        order("W-5", lines=[product_line("A", "2", "50.00")], send_invoice=True, credit_for="W-1")
    )
    source = CreditSource("5001", "1/2026", "10001", D("100.00"), "NOK")
    text = settings(
        credit_text="Kreditnota {{ref}} for faktura {invoice}.",
        credit_link_field="creditedInvoiceNumber",
    )
    body = credit_payload(canonical, "W-5", "1", {"A": "1"}, source, text, "negative").body
    assert body["orderType"] == "credit" and body["config"]["directInvoicing"] is True
    assert body["lines"][0] == {"lineType": "text", "name": "Kreditnota {ref} for faktura 10001."}
    assert body["lines"][1]["countAgreed"] == "-2"
    assert body["creditedInvoiceNumber"] == "10001"
    assert credited_invoice({"lines": body["lines"]}, text) == "10001"
    plain = credit_payload(canonical, "W-5", "1", {"A": "1"}, source, settings(), "positive")
    assert (
        plain.body["lines"][1]["countAgreed"] == "2" and "creditedInvoiceNumber" not in plain.body
    )
    assert (
        credited_invoice({"lines": [{"lineType": "text", "name": "Kreditnota"}]}, settings())
        is None
    )


@pytest.mark.parametrize("text", ["Kreditnota", "{invoice} {x}", "{invoice} {invoice}"])
def test_credit_text_must_name_the_invoice_once(text: str) -> None:
    with pytest.raises(ValueError, match="credit_text"):
        settings(credit_text=text)
