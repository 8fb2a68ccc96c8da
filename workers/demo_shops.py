"""The demo's sample orders as the shops would send them, for shop connections: each order is
placed in the Shopify or WooCommerce simulator, which delivers it to the intake as a signed
webhook (the same path a real shop takes)."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _lines(sample: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    products = [line for line in sample["lines"] if line["type"] == "product"]
    shipping = [line for line in sample["lines"] if line["type"] == "shipping"]
    return products, shipping


def shopify_order(sample: dict[str, Any]) -> dict[str, Any]:
    """A Shopify order (prices including VAT) with the sample's customer, lines and shipping."""
    products, shipping = _lines(sample)
    customer = sample["customer"]
    name = customer.get("name") or customer.get("company_name") or ""
    first, _, last = name.partition(" ")
    address = customer.get("billing_address") or {}
    total = sum(
        (Decimal(p["quantity"]) * Decimal(p["unit_price"]) for p in products), Decimal(0)
    ) + sum((Decimal(s["amount"]) for s in shipping), Decimal(0))
    return {
        "email": customer.get("email"),
        "currency": sample["currency"],
        "taxes_included": True,
        "financial_status": "paid" if sample.get("send_invoice") else "pending",
        "customer": {
            "id": zlib.crc32(str(customer.get("external_id")).encode()),
            "email": customer.get("email"),
            "first_name": first,
            "last_name": last,
        },
        "billing_address": {
            "first_name": first,
            "last_name": last,
            "company": customer.get("company_name"),
            "address1": address.get("line1"),
            "city": address.get("city"),
            "zip": address.get("postal_code"),
            "country_code": "NO",
        },
        "line_items": [
            {
                "sku": p["sku"],
                "title": p["name"],
                "quantity": int(p["quantity"]),
                "price": p["unit_price"],
                "discount_allocations": [],
                "tax_lines": [{"rate": float(p["vat_rate"]), "title": "MVA"}],
            }
            for p in products
        ],
        "shipping_lines": [
            {
                "title": s["name"],
                "price": s["amount"],
                "discounted_price": s["amount"],
                "tax_lines": [{"rate": float(s["vat_rate"]), "title": "MVA"}],
            }
            for s in shipping
        ],
        "total_price": _money(total),
    }


def woocommerce_order(sample: dict[str, Any]) -> dict[str, Any]:
    """A WooCommerce order: line and shipping amounts without VAT, the total with it."""
    products, shipping = _lines(sample)
    customer = sample["customer"]
    name = customer.get("name") or customer.get("company_name") or ""
    first, _, last = name.partition(" ")
    address = customer.get("billing_address") or {}
    items, tax_total, net_total = [], Decimal(0), Decimal(0)
    for p in products:
        rate = Decimal(p["vat_rate"])
        net = (Decimal(p["quantity"]) * Decimal(p["unit_price"]) / (1 + rate)).quantize(
            Decimal("0.01")
        )
        tax = (net * rate).quantize(Decimal("0.01"))
        tax_total, net_total = tax_total + tax, net_total + net
        items.append(
            {
                "sku": p["sku"],
                "name": p["name"],
                "quantity": int(p["quantity"]),
                "subtotal": _money(net),
                "total": _money(net),
                "total_tax": _money(tax),
                "subtotal_tax": _money(tax),
                "taxes": [],
            }
        )
    ships = []
    for s in shipping:
        rate = Decimal(s["vat_rate"])
        net = (Decimal(s["amount"]) / (1 + rate)).quantize(Decimal("0.01"))
        tax = (net * rate).quantize(Decimal("0.01"))
        tax_total, net_total = tax_total + tax, net_total + net
        ships.append(
            {"method_title": s["name"], "total": _money(net), "total_tax": _money(tax), "taxes": []}
        )
    return {
        "status": "processing" if sample.get("send_invoice") else "on-hold",
        "currency": sample["currency"],
        "prices_include_tax": True,
        "customer_id": zlib.crc32(str(customer.get("external_id")).encode()) % 10**6,
        "billing": {
            "first_name": first,
            "last_name": last,
            "company": customer.get("company_name") or "",
            "address_1": address.get("line1") or "",
            "city": address.get("city") or "",
            "postcode": address.get("postal_code") or "",
            "country": "NO",
            "email": customer.get("email") or "",
        },
        "line_items": items,
        "shipping_lines": ships,
        "fee_lines": [],
        "tax_lines": [],
        "total_tax": _money(tax_total),
        "total": _money(net_total + tax_total),
    }


@dataclass(frozen=True)
class ShopProfile:
    """How the demo speaks to one shop simulator: its webhook subscriptions and order shape."""

    subscriptions_path: str
    subscriptions: tuple[dict[str, str], ...]  # bodies; "{url}" is our webhook address
    order: Callable[[dict[str, Any]], dict[str, Any]]


SHOPS: dict[str, ShopProfile] = {
    "shopify": ShopProfile(
        "/_sim/subscriptions",
        (
            {"topic": "orders/create", "address": "{url}"},
            {"topic": "orders/paid", "address": "{url}"},
        ),
        shopify_order,
    ),
    "woocommerce": ShopProfile(
        "/_sim/webhooks",
        (
            {"topic": "order.created", "delivery_url": "{url}"},
            {"topic": "order.updated", "delivery_url": "{url}"},
        ),
        woocommerce_order,
    ),
}


def subscribe(source: str, shop_url: str, webhook_url: str) -> None:
    profile = SHOPS[source]
    for body in profile.subscriptions:
        filled = {k: v.replace("{url}", webhook_url) for k, v in body.items()}
        httpx.post(f"{shop_url}{profile.subscriptions_path}", json=filled).raise_for_status()


def place(source: str, shop_url: str, sample: dict[str, Any]) -> str:
    """Place the order in the shop simulator; returns the shop's order id."""
    response = httpx.post(f"{shop_url}/_sim/orders", json=SHOPS[source].order(sample), timeout=10)
    response.raise_for_status()
    answer = response.json()
    return str(answer.get("order", answer)["id"])
