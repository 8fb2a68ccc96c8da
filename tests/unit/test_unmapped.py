"""What each ERP does not carry: every registered connector reports, for an order with every
optional field filled, exactly the fields its mapping leaves out (the table in the README), and
nothing for fields the order does not have. A connector registered without an entry here fails."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.base import Connector
from connectors.registry import CONNECTORS
from schemas.order import Order
from tests.support.cluster import ROOT
from tests.support.factories import full_order, order, product_line
from tests.support.fakes import fake_store

# The smallest valid settings of each registered connector.
SETTINGS: dict[str, dict[str, Any]] = {
    "poweroffice": {"application_key": "a", "client_key": "c", "subscription_key": "s"},
    "exact": {"client_id": "c", "client_secret": "s"},
    "duett": {"integration_key": "i", "client_key": "c"},
    "sapera": {"base_url": "http://127.0.0.1:1", "tenant": "t", "user": "u", "password": "p"},
}
# What each ERP drops of `full_order(kind)`: the README's "What each ERP does not carry".
SERIALS, TEXT, NAME = "lines.1.serial_numbers", "lines.0.text", "lines.1.name"
DELIVERY = "customer.shipping_address"
DROPS: dict[str, dict[str, set[str]]] = {
    "poweroffice": {
        "person": {
            "customer.vat_number",
            "customer.company_name",
            "customer.org_number",
            DELIVERY,
            SERIALS,
        },
        "company": {"customer.vat_number", "customer.name", DELIVERY, SERIALS},
    },
    "exact": {
        "person": {"customer.external_id", "customer.company_name", "currency", TEXT, NAME}
        | {DELIVERY, SERIALS},
        "company": {"customer.external_id", "currency", TEXT, NAME, DELIVERY, SERIALS},
    },
    "duett": {
        "person": {
            "customer.vat_number",
            "customer.org_number",
            "customer.company_name",
            "customer.billing_address.postal_code",
            DELIVERY,
        },
        "company": {"customer.vat_number", "customer.billing_address.postal_code", DELIVERY},
    },
    "sapera": {
        "person": {"customer.org_number", "customer.vat_number", "customer.company_name"}
        | {"number", "placed_at", "currency", "customer.billing_address", DELIVERY}
        | {TEXT, NAME, "lines.2.name", SERIALS},
        "company": {"customer.name"}
        | {"number", "placed_at", "currency", "customer.billing_address", DELIVERY}
        | {TEXT, NAME, "lines.2.name", SERIALS},
    },
}

# Drops a full order does not show, each tested below: Exact cuts a number over 60 characters
# and books sales entries after discount; Go sends no address without city and postcode.
CONDITIONAL: dict[str, set[str]] = {
    "poweroffice": {"customer.billing_address"},
    "exact": {"number", "lines.N.discount"},
    "duett": set(),
    "sapera": set(),
}
# The README table's columns.
COLUMNS = {"PowerOffice Go": "poweroffice", "Exact Online": "exact", "Duett": "duett"}
COLUMNS["Sapera"] = "sapera"


@pytest.fixture
def connector() -> Iterator[Any]:
    clients: list[httpx.Client] = []

    def make(erp: str, **extra: Any) -> Connector:
        spec = CONNECTORS[erp]
        client = httpx.Client()
        clients.append(client)
        settings = spec.settings_model.model_validate({**SETTINGS[erp], **extra})
        return spec.factory(settings, client, fake_store())  # type: ignore[arg-type]

    yield make
    for client in clients:
        client.close()


def test_every_registered_connector_is_covered() -> None:
    missing = set(CONNECTORS) - set(DROPS)
    assert not missing, f"say what {sorted(missing)} drops: add to DROPS and the README's table"
    assert set(DROPS) == set(CONNECTORS) == set(SETTINGS) == set(CONDITIONAL)
    assert set(COLUMNS.values()) == set(CONNECTORS)


def readme_drops() -> dict[str, set[str]]:
    """Per ERP, the fields the README's "What each ERP does not carry" marks ✗."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## What each ERP does not carry", 1)[1].split("\n## ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]
    header, *body = rows
    found: dict[str, set[str]] = {COLUMNS[name]: set() for name in header[1:]}
    for first, *cells in body:
        fields = set(re.findall(r"`([\w.]+)`", first))
        for name, cell in zip(header[1:], cells, strict=True):
            if "✗" in cell:
                found[COLUMNS[name]] |= fields
    return found


def test_the_readme_table_says_what_the_connectors_report() -> None:
    for erp, table in readme_drops().items():
        reported = {re.sub(r"\.\d+\.", ".N.", f) for kind in DROPS[erp].values() for f in kind}
        assert table == reported | CONDITIONAL[erp], erp


def test_exact_cuts_an_order_number_longer_than_its_description(connector: Any) -> None:
    long = Order.model_validate(order("E-3", number="N" * 61))
    fields = [d.field for d in connector("exact", match_customers_by="code").unmapped(long, "E-3")]
    assert fields == ["currency", "number"]


@pytest.mark.parametrize("kind", ["person", "company"])
@pytest.mark.parametrize("erp", sorted(DROPS))
def test_a_full_order_reports_exactly_what_the_erp_drops(
    connector: Any, erp: str, kind: str
) -> None:
    full = Order.model_validate(full_order(kind, "F-1"))
    dropped = connector(erp).unmapped(full, "F-1")
    fields = [d.field for d in dropped]
    assert set(fields) == DROPS[erp][kind]
    assert len(fields) == len(set(fields)), "each field once"
    assert all(d.reason.strip() for d in dropped)


@pytest.mark.parametrize("erp", ["poweroffice", "duett"])
def test_an_order_of_what_the_erp_carries_reports_nothing(connector: Any, erp: str) -> None:
    plain = Order.model_validate(order("P-1"))
    assert connector(erp).unmapped(plain, "P-1") == []


def test_exact_reports_text_only_when_it_does_not_fit_the_description(connector: Any) -> None:
    lines = [
        {"type": "text", "text": "Gift wrap"},
        product_line("A"),
        {"type": "text", "text": "x" * 50},
    ]
    exact = connector("exact", match_customers_by="code")
    dropped = exact.unmapped(Order.model_validate(order("E-1", lines)), "E-1")
    assert [d.field for d in dropped] == ["currency", "lines.2.text"]


def test_exact_sales_entries_carry_the_currency_but_not_a_discount_on_its_own(
    connector: Any,
) -> None:
    exact = connector("exact", send_as="sales_entry", match_customers_by="code")
    lines = [product_line("A", "2", "100.00", "20.00")]
    dropped = exact.unmapped(Order.model_validate(order("E-2", lines)), "E-2")
    assert [d.field for d in dropped] == ["lines.0.discount"]


def test_sapera_keeps_an_order_number_that_our_reference_holds(connector: Any) -> None:
    sapera = connector("sapera")
    plain = Order.model_validate(order("S-1", number="1001"))
    assert "number" in [d.field for d in sapera.unmapped(plain, "S-1")]
    assert "number" not in [d.field for d in sapera.unmapped(plain, "shop-1001")]


def test_poweroffice_reports_a_billing_address_it_cannot_send(connector: Any) -> None:
    buyer = {
        "name": "Ola Nordmann",
        "billing_address": {"line1": "Storgata 1", "country": "NO"},  # no city, no postcode
    }
    dropped = connector("poweroffice").unmapped(
        Order.model_validate(order("P-2", cust=buyer)), "P-2"
    )
    [address] = dropped
    assert address.field == "customer.billing_address"
    assert "city and postcode" in address.reason
