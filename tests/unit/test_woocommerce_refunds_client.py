"""Reading a WooCommerce refund with `woocommerce_refund_resource` from the in-process simulator,
and mapping it with the order it refunds: the way from an `order.updated` listing a refund to a
credit order for exactly the refunded lines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.errors import ErpHttpError, PermanentError
from connectors.shops.settings import ShopSettings
from connectors.shops.woocommerce.refund import woocommerce_refund, woocommerce_refund_ids
from connectors.shops.woocommerce.rest import woocommerce_refund_resource
from schemas.order import ProductLine
from simulators.shops import create_woocommerce
from tests.support.payloads import woo_nok_order
from tests.support.sim_server import simulator_fixtures

D = Decimal
FILTERS = {
    "id": 330,
    "name": "Kaffefilter",
    "product_id": 41,
    "variation_id": 0,
    "quantity": 3,
    "tax_class": "",
    "subtotal": "90.00",
    "subtotal_tax": "22.50",
    "total": "81.00",
    "total_tax": "20.25",
    "taxes": [{"id": 1, "total": "20.25", "subtotal": "22.5"}],
    "meta_data": [],
    "sku": "FILTER-100",
    "price": 27,
}


server, sim = simulator_fixtures(create_woocommerce)


def shop(base_url: str, secret: str = "cs_demo") -> ShopSettings:
    return ShopSettings(
        api_url=f"{base_url}/", consumer_key=SecretStr("ck_demo"), consumer_secret=SecretStr(secret)
    )


def three_line_order(sim: httpx.Client) -> dict[str, Any]:
    """`woo_nok_order` with three filters added (81.00 after the coupon + 20.25 tax)."""
    payload = {k: v for k, v in woo_nok_order().items() if k not in ("id", "number")}
    payload["line_items"].append(FILTERS)
    payload.update(total="1419.35", total_tax="265.15", deliver=False)
    placed = sim.post("/_sim/orders", json=payload)
    assert placed.status_code == 201, placed.text
    order: dict[str, Any] = placed.json()["order"]
    return order


def test_two_of_three_lines_refunded_become_a_credit_order_for_those_lines(
    sim: httpx.Client, server: str
) -> None:
    order = three_line_order(sim)
    made = sim.post(
        f"/_sim/orders/{order['id']}/refunds",
        json={
            "line_items": [{"id": 315, "quantity": 1}, {"id": 330, "quantity": 2}],
            "reason": "Kvern og filter returnert",
            "deliver": False,
        },
    )
    assert made.status_code == 201, made.text
    # what the pipeline does on order.updated: the order body names the refunds
    order_payload = sim.get(
        f"/wp-json/wc/v3/orders/{order['id']}", auth=("ck_demo", "cs_demo")
    ).json()
    [refund_id] = woocommerce_refund_ids(order_payload)

    resource = woocommerce_refund_resource(shop(server), str(order["id"]), refund_id, sim)

    assert resource["id"] == int(refund_id) and resource["amount"] == "967.50"
    credit = woocommerce_refund(resource, order_payload, fallback_sku=None)
    assert credit.credit_for == str(order["id"])
    assert credit.external_id == f"refund-{refund_id}"
    assert [
        (line.sku, line.quantity, line.unit_price, line.discount, line.vat_rate)
        for line in credit.lines
        if isinstance(line, ProductLine)
    ] == [
        ("GRIND-1", D(1), D("720.00"), D("0.00"), D("0.25")),
        ("FILTER-100", D(2), D("27.00"), D("0.00"), D("0.25")),
    ]
    assert len(credit.lines) == 2  # no shipping or fee was refunded
    assert credit.total == credit.computed_total == D("774.00")  # net; 967.50 with tax
    assert credit.customer.email == "kari@example.no" and credit.currency == "NOK"


def test_unexpected_answers_and_bad_ids_are_errors(sim: httpx.Client, server: str) -> None:
    order = three_line_order(sim)
    with pytest.raises(ErpHttpError) as missing:
        woocommerce_refund_resource(shop(server), str(order["id"]), "99999", sim)
    assert missing.value.response.status_code == 404
    with pytest.raises(ErpHttpError) as refused:
        woocommerce_refund_resource(shop(server, "cs_wrong"), str(order["id"]), "1", sim)
    assert refused.value.response.status_code == 401
    for order_id, refund_id in (("1/../2", "1"), (str(order["id"]), "7?x=1"), ("", "1")):
        with pytest.raises(PermanentError):
            woocommerce_refund_resource(shop(server), order_id, refund_id, sim)
    with pytest.raises(PermanentError):
        woocommerce_refund_resource(ShopSettings(api_url=server), "1", "2", sim)
