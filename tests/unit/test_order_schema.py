"""The canonical order: what it accepts, what it refuses, and that refusals name the field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from schemas.order import Order
from tests.support.factories import order, product_line
from workers.intake.errors import validation_details


def fields_of(exc: ValidationError) -> set[str]:
    return {d["field"] for d in validation_details(exc)}


def test_design_example_adds_up() -> None:
    body = order(
        lines=[
            product_line("KAFFE-500", "2", "100.00", "20.00", "0.15"),
            {"type": "text", "text": "Gift wrap, please"},
            {"type": "shipping", "name": "Frakt", "amount": "99.00", "vat_rate": "0.25"},
        ],
        total="279.00",
    )
    parsed = Order.model_validate(body)
    assert parsed.computed_total == Decimal("279.00")
    assert [line.type for line in parsed.lines] == ["product", "text", "shipping"]


def test_total_within_a_cent_per_line_is_accepted() -> None:
    body = order(
        lines=[product_line("A", "1", "10.00"), product_line("B", "1", "10.00")], total="20.02"
    )
    assert Order.model_validate(body).total == Decimal("20.02")


def test_total_that_does_not_add_up_shows_both_sums() -> None:
    body = order(lines=[product_line("A", "1", "10.00")], total="25.00")
    with pytest.raises(ValidationError) as caught:
        Order.model_validate(body)
    details = validation_details(caught.value)
    assert details[0]["field"] == "total"
    assert "25.00" in details[0]["message"] and "10.00" in details[0]["message"]


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda o: o.pop("external_id"), "external_id"),
        (lambda o: o.pop("currency"), "currency"),
        (lambda o: o.update(currency="kroner"), "currency"),
        (lambda o: o.update(lines=[]), "lines"),
        (lambda o: o["lines"][0].update(quantity="-1"), "lines.0.quantity"),
        (lambda o: o["lines"][0].update(quantity="abc"), "lines.0.quantity"),
        (lambda o: o["lines"][0].update(unit_price="-5"), "lines.0.unit_price"),
        (lambda o: o["lines"][0].update(vat_rate="25"), "lines.0.vat_rate"),
        (lambda o: o["lines"][0].update(sku=""), "lines.0.sku"),
        (lambda o: o["lines"][0].update(type="coupon"), "lines.0"),
        (lambda o: o["customer"].update(name=None, company_name=None), "customer"),
        (lambda o: o["customer"].update(email="not-an-email"), "customer.email"),
        (lambda o: o["lines"][0].update(unit_price="1e400"), "lines.0.unit_price"),
        (lambda o: o["lines"][0].update(unit_price="NaN"), "lines.0.unit_price"),
    ],
)
def test_invalid_orders_name_the_field(mutate, field: str) -> None:
    body = order()
    mutate(body)
    with pytest.raises(ValidationError) as caught:
        Order.model_validate(body)
    assert field in fields_of(caught.value)


def test_discount_larger_than_the_line_is_refused() -> None:
    body = order(lines=[product_line("A", "1", "10.00", discount="11.00")])
    with pytest.raises(ValidationError) as caught:
        Order.model_validate(body)
    assert "lines.0" in fields_of(caught.value)


def test_too_many_lines_is_refused() -> None:
    body = order(lines=[product_line(f"S{i}") for i in range(501)])
    with pytest.raises(ValidationError) as caught:
        Order.model_validate(body)
    assert "lines" in fields_of(caught.value)


def test_company_customer_without_person_name() -> None:
    body = order(
        cust={"kind": "company", "company_name": "Fjord Kaffe AS", "org_number": "999888777"}
    )
    parsed = Order.model_validate(body)
    assert parsed.customer.display_name == "Fjord Kaffe AS"
