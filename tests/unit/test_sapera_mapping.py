"""Sapera's price rule and the checks before posting, without HTTP."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from connectors.base import CreditSource
from connectors.errors import PermanentError
from connectors.sapera.mapping import (
    Resolved,
    actor_command,
    check_credit,
    credit_text,
    order_command,
    plan_item,
)
from connectors.sapera.settings import SaperaSettings
from schemas.order import Customer


def settings(**extra: Any) -> SaperaSettings:
    return SaperaSettings(
        base_url="http://127.0.0.1:1", tenant="t", user="u", password="p", **extra
    )


def shirt_m() -> Resolved:
    return Resolved(
        "SAP-SHIRT-M", 1, "SAP-SHIRT", 11, None, D("125.00"), D("90.00"), D("0.25"), "3000"
    )


def test_the_shops_price_becomes_a_manual_discount() -> None:
    item = plan_item(shirt_m(), D(2), D("200.00"), D("0.25"), True, "lines.0", settings())
    assert (item.discount, item.shop_amount, item.price) == (D("50.00"), D("200.00"), None)


def test_net_shop_prices_are_converted_to_gross_first() -> None:
    item = plan_item(shirt_m(), D(2), D("160.00"), D("0.25"), False, "lines.0", settings())
    assert (item.shop_amount, item.discount) == (D("200.00"), D("50.00"))


@pytest.mark.parametrize(
    ("resolved", "quantity", "amount", "rate", "message"),
    [
        (
            Resolved(
                "SAP-SHIRT", 1, "SAP-SHIRT", None, None, D(150), D(90), D("0.25"), "3000", "variant"
            ),
            D(1),
            D(150),
            D("0.25"),
            "SAP-SHIRT names a product that needs a variant",
        ),
        (
            Resolved("SAP-AVIS", 2, "SAP-AVIS", None, None, D(30), D(10), D(0), "3050"),
            D(1),
            D(30),
            D("0.25"),
            "SAP-AVIS is booked on account 3050 at 0 % VAT in Sapera, the shop line has 25 %",
        ),
        (
            Resolved("SAP-100", 3, "SAP-100", None, None, D(100), D(60), D("0.25"), "3000"),
            D(1),
            D(120),
            D("0.25"),
            "SAP-100: the shop charged 120.00 for 1, above Sapera's 100.00",
        ),
        (
            Resolved("SAP-BIKE-0042", 4, "SAP-BIKE", None, 42, D(8490), D(5100), D("0.25"), "3000"),
            D(2),
            D(16980),
            D("0.25"),
            "SAP-BIKE-0042 is a product instance: quantity must be 1",
        ),
    ],
)
def test_checks_name_the_sku_and_both_values(
    resolved: Resolved, quantity: D, amount: D, rate: D, message: str
) -> None:
    with pytest.raises(PermanentError, match=message):
        plan_item(resolved, quantity, amount, rate, True, "lines.0", settings())


def test_a_higher_shop_price_can_be_sent_when_the_connection_allows_it() -> None:
    resolved = Resolved("SAP-100", 3, "SAP-100", None, None, D(100), D(60), D("0.25"), "3000")
    item = plan_item(
        resolved, D(1), D(120), D("0.25"), True, "lines.0", settings(price_above_list="send_price")
    )
    assert (item.price, item.discount) == (D("120.00"), D("0.00"))


def test_commands_carry_wrappers_roles_and_our_reference() -> None:
    person = actor_command(Customer(name="Kari Nordmann", email="kari@example.no"), "id:c-1")
    assert person["roleNames"] == ["CustomerPerson", "Customer", "Person"]
    assert "User" not in person["roleNames"]
    assert person["modelUpdates"][0]["firstName"] == {"value": "Kari"}
    item = plan_item(shirt_m(), D(2), D("200.00"), D("0.25"), True, "lines.0", settings())
    command = order_command("#1001", "7", [item], settings(allow_modifying_when_ready=True))
    assert command["AllowModifyingWhenReady"] == {"value": True}
    customer_data, line = command["modelUpdates"]
    assert customer_data["customerReference"] == {"value": "#1001"}
    assert customer_data["actor"] == {"value": {"actorId": 7}}
    assert line["manualDiscountAmount"] == 50.0 and line["inventoryItemData"]["variantId"] == 11


def test_a_credit_note_returns_the_items_and_names_what_it_credits() -> None:
    item = plan_item(shirt_m(), D(2), D("200.00"), D("0.25"), True, "lines.0", settings())
    original = CreditSource("5001:10001", "10001", "20001", D("250.00"), "DKK")
    command = order_command("#1001-R", "7", [item], settings(), credit_text(original))
    line = command["modelUpdates"][1]
    assert (line["quantity"], line["manualDiscountAmount"]) == (-2.0, 50.0)
    assert command["subject"] == {"value": "Credit note for invoice 20001 (sales order 10001)"}
    assert "subject" not in order_command(
        "#1001-R", "7", [item], settings(subject_field=None), credit_text(original)
    )
    assert "subject" not in order_command("#1001", "7", [item], settings())
    assert (
        credit_text(CreditSource("5001:10001", None, None, D(1), "DKK"))
        == "Credit note for sales order 5001:10001"
    )
    check_credit([item], original)
    with pytest.raises(
        PermanentError, match="200.00 DKK, more than the 150.00 DKK of sales order 10001"
    ):
        check_credit([item], CreditSource("5001:10001", "10001", None, D("150.00"), "DKK"))
