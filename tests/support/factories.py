"""Factories for canonical orders: explicit values, no fixture magic."""

from __future__ import annotations

import itertools
from typing import Any

_counter = itertools.count(1)


def product_line(
    sku: str,
    quantity: str = "1",
    unit_price: str = "100.00",
    discount: str = "0",
    vat_rate: str = "0.25",
    name: str | None = None,
) -> dict[str, Any]:
    return {
        "type": "product",
        "sku": sku,
        "name": name or f"Article {sku}",
        "quantity": quantity,
        "unit_price": unit_price,
        "discount": discount,
        "vat_rate": vat_rate,
    }


def customer(
    external_id: str = "c-42",
    name: str = "Kari Nordmann",
    email: str = "kari@example.no",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "kind": "person",
        "name": name,
        "email": email,
        "billing_address": {
            "line1": "Storgata 1",
            "postal_code": "0155",
            "city": "Oslo",
            "country": "NO",
        },
        **extra,
    }


def order(
    external_id: str | None = None,
    lines: list[dict[str, Any]] | None = None,
    cust: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    external_id = external_id or f"59000{next(_counter):08d}"
    return {
        "external_id": external_id,
        "number": f"#{external_id[-4:]}",
        "source": "test",
        "placed_at": "2026-11-04T09:14:58Z",
        "currency": "NOK",
        "prices_include_vat": True,
        "customer": cust or customer(),
        "lines": lines or [product_line("KAFFE-500", "2", "100.00", "20.00", "0.15")],
        **extra,
    }


def three_line_order(
    external_id: str | None = None, prefix: str = "SKU", cust: dict[str, Any] | None = None
) -> dict[str, Any]:
    return order(
        external_id,
        [
            product_line(f"{prefix}-1", "1", "100.00"),
            product_line(f"{prefix}-2", "2", "50.00", "10.00", "0.15"),
            product_line(f"{prefix}-3", "3", "10.00"),
        ],
        cust,
    )


def full_order(kind: str = "person", external_id: str | None = None) -> dict[str, Any]:
    """An order with every optional field filled, for what-each-ERP-drops tests: a customer
    with both names, organisation and VAT number, a foreign billing and a Norwegian delivery
    address; a text line too long for a 60-character description, a product line with a
    discount, serial numbers and a name over 60 characters, and shipping."""
    buyer = {
        **customer("c-full", "Kari Nordmann", "kari@example.no"),
        "kind": kind,
        "company_name": "Fjord Kaffe AS",
        "org_number": "999888777",
        "vat_number": "NO999888777MVA",
        "phone": "+47 22 33 44 55",
        "billing_address": {
            "line1": "Kungsgatan 1",
            "line2": "3 tr",
            "postal_code": "111 22",
            "city": "Stockholm",
            "country": "SE",
        },
        "shipping_address": {
            "line1": "Storgata 1",
            "postal_code": "0155",
            "city": "Oslo",
            "country": "NO",
        },
    }
    camera = product_line(
        "CAM-1",
        "2",
        "499.00",
        "10.00",
        name="Camera, mirrorless, 24 megapixels, with a name over sixty characters",
    )
    lines = [
        {"type": "text", "text": "Please deliver to the back door; ring twice and wait a minute"},
        {**camera, "serial_numbers": ["SN-1", "SN-2"]},
        {"type": "shipping", "name": "Frakt", "amount": "99.00", "vat_rate": "0.25"},
    ]
    return order(external_id, lines, buyer, currency="EUR")
