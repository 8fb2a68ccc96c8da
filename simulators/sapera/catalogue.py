"""The tenant's chart of sales accounts and its products, and how a product is added.

The fixed catalogue exercises every price and cost rule (erp/sapera.md, "Sale item resolution
rules"): a plain product, variants with and without their own price or cost, an instance, a
default cost price, and a zero-rated newspaper. Prices include VAT; the VAT rate comes from the
product's financial account (Denmark: 25 % or 0 %). The `demo_catalogue` option adds the demo's
articles, and with them an account at 15 % that a Danish tenant would not have: the demo's
sample orders carry Norwegian food VAT, and the demo must be able to book them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulators.sapera.money import dec, money, rate
from simulators.sapera.store import Store

ACCOUNTS = (
    ("3000", "Salg af varer, 25 % moms", Decimal("0.25")),
    ("3050", "Salg momsfrit (aviser)", Decimal(0)),
)
DEMO_ACCOUNTS = (("3010", "Salg 15 % (demo)", Decimal("0.15")),)

CATALOGUE: tuple[dict[str, Any], ...] = (
    {
        "identifier": "SAP-100",
        "displayName": "Plain product",
        "salesPrice": 100.00,
        "costPrice": 60.00,
        "financialAccountNumber": "3000",
    },
    {
        "identifier": "SAP-SHIRT",
        "displayName": "T-shirt",
        "salesPrice": 150.00,
        "costPrice": 90.00,
        "financialAccountNumber": "3000",
        "variants": [
            {"identifier": "SAP-SHIRT-M", "displayName": "T-shirt M", "salesPrice": 125.00},
            {"identifier": "SAP-SHIRT-L", "displayName": "T-shirt L", "costPrice": 95.00},
        ],
    },
    {
        "identifier": "SAP-BIKE",
        "displayName": "Bicycle",
        "salesPrice": 9000.00,
        "costPrice": 6000.00,
        "financialAccountNumber": "3000",
        "instances": [{"identifier": "SAP-BIKE-0042", "salesPrice": 8490.00, "costPrice": 5100.00}],
    },
    {
        "identifier": "SAP-COFFEE",
        "displayName": "Coffee beans",
        "salesPrice": 89.00,
        "financialAccountNumber": "3000",
        "isDefaultCostPriceApplicable": True,
        "defaultCostPrice": 40.00,
    },
    {
        "identifier": "SAP-AVIS",
        "displayName": "Avis",
        "salesPrice": 30.00,
        "costPrice": 10.00,
        "financialAccountNumber": "3050",
    },
)
DEMO_CATALOGUE: tuple[dict[str, Any], ...] = (
    {
        "identifier": "KAFFE-500",
        "displayName": "Kaffe 500 g",
        "salesPrice": 129.00,
        "costPrice": 70.00,
        "financialAccountNumber": "3010",
    },
    {
        "identifier": "TE-100",
        "displayName": "Te 100 g",
        "salesPrice": 79.00,
        "costPrice": 35.00,
        "financialAccountNumber": "3010",
    },
    {
        "identifier": "KOPP-01",
        "displayName": "Kopp",
        "salesPrice": 149.00,
        "costPrice": 60.00,
        "financialAccountNumber": "3000",
    },
    {
        "identifier": "KVERN-2",
        "displayName": "Kaffekvern",
        "salesPrice": 899.00,
        "costPrice": 450.00,
        "financialAccountNumber": "3000",
    },
    {
        "identifier": "FRAKT",
        "displayName": "Frakt",
        "salesPrice": 99.00,
        "financialAccountNumber": "3000",
    },
)


def seed(store: Store, demo: bool) -> None:
    for number, name, vat in ACCOUNTS:
        store.accounts[number] = {"number": number, "name": name, "vatRate": rate(vat)}
    for spec in CATALOGUE:
        add_product(store, spec)
    set_demo_catalogue(store, demo)


def set_demo_catalogue(store: Store, demo: bool) -> None:
    """Add or remove the demo's articles (and the 15 % account that only they use)."""
    if demo and not store.demo_identifiers:
        for number, name, vat in DEMO_ACCOUNTS:
            store.accounts[number] = {"number": number, "name": name, "vatRate": rate(vat)}
        for spec in DEMO_CATALOGUE:
            add_product(store, spec)
            store.demo_identifiers.add(spec["identifier"])
    elif not demo and store.demo_identifiers:
        for identifier in store.demo_identifiers:
            product = store.product_by_identifier(identifier)
            if product is not None:
                store.remove_product(product["id"])
        store.demo_identifiers.clear()
        for number, _, _ in DEMO_ACCOUNTS:
            store.accounts.pop(number, None)


def add_product(store: Store, spec: dict[str, Any]) -> dict[str, Any]:
    """Add a product with its variants and instances; ValueError says what is wrong."""
    if not isinstance(spec, dict):
        raise ValueError("a product must be a JSON object")
    variants, instances = _list(spec, "variants"), _list(spec, "instances")
    identifiers = [
        _identifier(spec),
        *(_identifier(v) for v in variants),
        *(_identifier(i) for i in instances),
    ]
    for identifier in identifiers:
        if store.identifier_taken(identifier) or identifiers.count(identifier) > 1:
            raise ValueError(f"identifier {identifier!r} is already in use")
    account = spec.get("financialAccountNumber", "3000")
    if account not in store.accounts:
        raise ValueError(
            f"unknown financialAccountNumber {account!r}; known: {', '.join(store.accounts)}"
        )
    product = {
        "id": store.new_id("product"),
        "identifier": spec["identifier"],
        "displayName": spec.get("displayName") or spec["identifier"],
        "financialAccountNumber": account,
        "salesPrice": _money(spec, "salesPrice"),
        "costPrice": _money(spec, "costPrice"),
        "isDefaultCostPriceApplicable": _flag(spec, "isDefaultCostPriceApplicable"),
        "defaultCostPrice": _money(spec, "defaultCostPrice"),
        "isProductVariantsSupported": _flag(spec, "isProductVariantsSupported", bool(variants)),
        "isProductInstancesSupported": _flag(spec, "isProductInstancesSupported", bool(instances)),
        "isUserDefinedPriceAllowed": _flag(spec, "isUserDefinedPriceAllowed"),
    }
    if (variants and not product["isProductVariantsSupported"]) or (
        instances and not product["isProductInstancesSupported"]
    ):
        raise ValueError("variants/instances need isProductVariants/InstancesSupported")
    store.products[product["id"]] = product
    for variant in variants:
        row = {
            "id": store.new_id("variant"),
            "productId": product["id"],
            "identifier": variant["identifier"],
            "displayName": variant.get("displayName") or variant["identifier"],
            "salesPrice": _money(variant, "salesPrice"),
            "costPrice": _money(variant, "costPrice"),
            "isEnabled": _flag(variant, "isEnabled", True),
        }
        store.variants[row["id"]] = row
    for instance in instances:
        row = {
            "id": store.new_id("instance"),
            "productId": product["id"],
            "identifier": instance["identifier"],
            "salesPrice": _money(instance, "salesPrice"),
            "costPrice": _money(instance, "costPrice"),
        }
        store.instances[row["id"]] = row
    return product_view(store, product)


def product_view(store: Store, product: dict[str, Any]) -> dict[str, Any]:
    """A product as `/_sim/state` shows it: with its variants and instances."""
    return {
        **product,
        "variants": store.variants_of(product["id"]),
        "instances": store.instances_of(product["id"]),
    }


def _identifier(spec: Any) -> str:
    identifier = spec.get("identifier") if isinstance(spec, dict) else None
    if not isinstance(identifier, str) or not identifier.strip():
        raise ValueError("every product, variant and instance needs an identifier (a string)")
    return identifier


def _list(spec: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = spec.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"{name} must be a list of objects")
    return value


def _money(spec: dict[str, Any], name: str) -> float | None:
    value = spec.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number or null")
    return money(dec(value))


def _flag(spec: dict[str, Any], name: str, default: bool = False) -> bool:
    value = spec.get(name, default)
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    return value
