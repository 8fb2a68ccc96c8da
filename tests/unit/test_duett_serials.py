"""Serial numbers into Duett: a line that carries them is a serial line on a serial article,
listed in `serial_skus` or not, and an existing article of the wrong type is refused naming the
SKU and the setting, never sent without them. Mapping as plain functions, the connector against
the in-process Duett simulator over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.base import ProductSpec, fingerprint
from connectors.duett import DuettSettings
from connectors.duett.mapping import article_body, article_specs, order_payload
from connectors.errors import PermanentError
from schemas.order import Order
from tests.support.duett import connect_fixture, server_fixture, sim_fixture  # noqa: F401
from tests.support.factories import order, product_line

SERIALS = ["SN-1", "SN-2"]


def settings(**extra: Any) -> DuettSettings:
    return DuettSettings(integration_key="i", client_key="c", **extra)


def with_serials(sku: str = "CAM-1") -> Order:
    """An order whose line for `sku` (2 units) carries serial numbers, beside a plain line."""
    lines = [
        {**product_line(sku, "2", "499.00"), "serial_numbers": SERIALS},
        product_line("BAG-1", "1", "99.00"),
    ]
    return Order.model_validate(order(lines=lines))


def test_a_line_with_serial_numbers_is_a_serial_line_though_its_sku_is_not_listed() -> None:
    canonical = with_serials()
    body = order_payload(canonical, "R-1", "7", {"CAM-1": "1", "BAG-1": "2"}, settings()).body
    assert [ln["lineType"] for ln in body["lines"]] == ["serial", "normal"]
    assert body["lines"][0]["serialNumbers"] == [{"serialNo": s} for s in SERIALS]


def test_its_article_is_created_as_a_serial_article() -> None:
    specs = {s.sku: s for s in article_specs(with_serials(), settings())}
    assert (specs["CAM-1"].serial, specs["BAG-1"].serial) == (True, False)
    assert article_body(specs["CAM-1"], settings())["articleType"] == "serial"
    assert article_body(specs["BAG-1"], settings())["articleType"] == "normal"


def test_a_listed_sku_is_still_serial() -> None:
    lines = [{**product_line("CAM-1", "2", "499.00"), "serial_numbers": SERIALS}]
    canonical = Order.model_validate(order(lines=lines))
    [spec] = article_specs(canonical, settings(serial_skus=["CAM-1"]))
    assert spec.serial


def test_a_serial_spec_is_looked_up_again_and_plain_fingerprints_do_not_change() -> None:
    plain = ProductSpec("CAM-1", "Camera", with_serials().lines[0].vat_rate)  # type: ignore[union-attr]
    serial = ProductSpec(plain.sku, plain.name, plain.vat_rate, serial=True)
    assert plain.fingerprint == fingerprint("CAM-1", "Camera", "0.25")  # as cached before
    assert serial.fingerprint != plain.fingerprint


def test_another_line_of_the_same_sku_without_serial_numbers_is_refused_at_the_door(
    connect: Any,
) -> None:
    lines = [
        {**product_line("CAM-1", "2", "499.00"), "serial_numbers": SERIALS},
        product_line("CAM-1", "1", "499.00"),
    ]
    refused = connect().check_order(Order.model_validate(order(lines=lines)))
    assert [field for field, _ in refused] == ["lines.1.serial_numbers"]
    assert "another line" in refused[0][1]


def test_a_listed_sku_without_serial_numbers_is_still_refused(connect: Any) -> None:
    canonical = Order.model_validate(order(lines=[product_line("CAM-1", "2", "499.00")]))
    refused = connect(serial_skus=["CAM-1"]).check_order(canonical)
    assert [field for field, _ in refused] == ["lines.0.serial_numbers"]


def test_serial_numbers_must_match_the_quantity(connect: Any) -> None:
    lines = [{**product_line("CAM-1", "4", "199.00"), "serial_numbers": ["S1"]}]
    canonical = Order.model_validate(order(lines=lines))  # other ERPs drop them, with a warning
    [(field, message)] = connect().check_order(canonical)
    assert field == "lines.0.serial_numbers"
    assert message.startswith("1 given for quantity 4: CAM-1 is a serial article in Duett")


def test_the_connector_creates_the_serial_article_and_sends_the_serial_numbers(
    connect: Any, sim: httpx.Client
) -> None:
    duett, canonical = connect(), with_serials()
    customer_id = duett.upsert_customer(canonical.customer, "id:c-42")
    ids = duett.upsert_products(duett.products_for(canonical))
    duett.create_order(canonical, "R-2", customer_id, ids)
    state = sim.get("/_sim/state").json()
    types = {a["articleNumber"]: a["articleType"] for a in state["articles"]}
    assert (types["CAM-1"], types["BAG-1"]) == ("serial", "normal")
    [doc] = state["orders"]
    serial = [ln for ln in doc["lines"] if ln["lineType"] == "serial"]
    assert [s["serialNo"] for ln in serial for s in ln["serialNumbers"]] == SERIALS


def test_an_existing_normal_article_is_refused_naming_the_sku_and_the_setting(
    connect: Any, sim: httpx.Client
) -> None:
    duett = connect()
    # Given CAM-1 exists in Duett as a normal article (an earlier order without serials)
    plain = Order.model_validate(order(lines=[product_line("CAM-1", "1", "499.00")]))
    duett.upsert_products(duett.products_for(plain))
    # When an order gives serial numbers for it, then the articles step refuses it
    with pytest.raises(PermanentError, match=r"article CAM-1 exists in Duett as a normal") as err:
        duett.upsert_products(duett.products_for(with_serials()))
    assert "serial_skus" in str(err.value)
    types = [a["articleType"] for a in sim.get("/_sim/state").json()["articles"]]
    assert types == ["normal"]  # its type is left alone


def test_an_existing_serial_article_without_serial_numbers_is_refused_clearly(
    connect: Any,
) -> None:
    duett = connect()
    duett.upsert_products(duett.products_for(with_serials()))
    plain = Order.model_validate(order(lines=[product_line("CAM-1", "1", "499.00")]))
    with pytest.raises(PermanentError, match=r"CAM-1 is a serial article in Duett"):
        duett.upsert_products(duett.products_for(plain))
