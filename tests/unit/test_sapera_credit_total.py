"""The original's total a Sapera credit note is checked against: with VAT, as the items are."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D
from typing import Any

import pytest

from connectors.errors import PermanentError
from connectors.sapera.mapping import Item, Resolved, check_credit, plan_item
from connectors.sapera.settings import SaperaSettings
from schemas.job import Job
from schemas.order import Order, ProductLine, ShippingLine
from tasks.credits import source_of

SHIRT = Resolved(
    "SAP-SHIRT-M", 1, "SAP-SHIRT", 11, None, D("125.00"), D("90.00"), D("0.25"), "3000"
)
FREIGHT = Resolved("SAP-FRAKT", 5, "SAP-FRAKT", None, None, D("50.00"), None, D("0.25"), "3000")


def net_order(external_id: str, shipping: str = "40.00", **extra: Any) -> Order:
    """2 shirts at 80.00 and shipping at 40.00, all net of 25 % VAT: 200.00 net, 250.00 gross."""
    return Order.model_validate(
        {
            "external_id": external_id,
            "currency": "DKK",
            "prices_include_vat": False,
            "customer": {"name": "Kari Nordmann"},
            **extra,
            "lines": [
                {
                    "type": "product",
                    "sku": "SAP-SHIRT-M",
                    "name": "Shirt M",
                    "quantity": "2",
                    "unit_price": "80.00",
                    "vat_rate": "0.25",
                },
                {"type": "shipping", "amount": shipping, "vat_rate": "0.25"},
            ],
        }
    )


def original_job(order: Order | None) -> Job:
    job = Job.new("job-1", "sapera", "S-1", net_order("590001"), send_invoice=True)
    return job.model_copy(
        update={
            "order": order,
            "state": "done",
            "erp": {"order_id": "5001:10001", "order_number": "10001", "invoice_number": "20001"},
        }
    )


def items_for(credit: Order) -> list[Item]:
    settings = SaperaSettings(base_url="http://127.0.0.1:1", tenant="t", user="u", password="p")
    shirt, freight = credit.lines
    assert isinstance(shirt, ProductLine) and isinstance(freight, ShippingLine)
    return [
        plan_item(
            SHIRT,
            shirt.quantity,
            shirt.amount,
            shirt.vat_rate,
            credit.prices_include_vat,
            "lines.0",
            settings,
        ),
        plan_item(
            FREIGHT,
            D(1),
            freight.amount,
            freight.vat_rate,
            credit.prices_include_vat,
            "lines.1",
            settings,
        ),
    ]


def test_a_full_refund_of_a_net_priced_order_is_accepted() -> None:
    # Given a refund of everything on an order whose shop prices exclude VAT
    original = net_order("590001", total="200.00")
    credit = net_order("590001-R1", credit_for="590001")
    items = items_for(credit)
    assert sum(item.shop_amount for item in items) == D("250.00")  # the items carry VAT
    # Then the original's total is taken with VAT too, and the credit note passes
    source = source_of(original_job(original))
    assert source.total == original.gross_total == D("250.00")
    check_credit(items, source)
    # (compared with the order's own net total, the same credit note would be refused)
    with pytest.raises(PermanentError, match="250.00 DKK, more than the 200.00 DKK of invoice"):
        check_credit(items, replace(source, total=original.total))


def test_a_credit_for_a_purged_original_is_left_to_sapera() -> None:
    source = source_of(original_job(None))
    assert source.total is None and source.order_id == "5001:10001"
    check_credit(items_for(net_order("590001-R1", credit_for="590001")), source)


def test_gross_total_rounds_each_line_to_cents_like_the_items() -> None:
    order = net_order("590002", shipping="39.99")
    assert order.gross_total == D("200.00") + D("49.99")  # 49.9875 → 49.99
    items = items_for(order)
    assert sum(item.shop_amount for item in items) == order.gross_total
