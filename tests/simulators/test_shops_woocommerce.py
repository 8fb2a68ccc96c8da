"""The WooCommerce simulator over real HTTP: its Orders API (consumer keys, paging headers,
filters) and its webhooks (the creation ping, headers, signature over the exact body, no retries,
disabled after repeated failures), received by a tiny local server."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.shops.woocommerce.mapping import woocommerce_order
from simulators.shops import create_woocommerce
from tests.support.payloads import woo_nok_order
from tests.support.sim_server import simulator_fixtures
from tests.support.sim_shops import (  # noqa: F401  (fixtures)
    Receiver,
    hmac_b64,
    receiver_fixture,
    receiver_server_fixture,
    settled,
)

ORDERS = "/wp-json/wc/v3/orders"
BASIC = {"Authorization": "Basic " + base64.b64encode(b"ck_demo:cs_demo").decode()}


server, sim = simulator_fixtures(create_woocommerce)


def add_webhook(
    sim: httpx.Client, receiver: Receiver, topic: str = "order.created", **fields: Any
) -> dict[str, Any]:
    url = f"{receiver.base_url}/webhooks/woocommerce/demo-woo"
    response = sim.post("/_sim/webhooks", json={"topic": topic, "delivery_url": url, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def place(sim: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = sim.post("/_sim/orders", json=fields)
    assert response.status_code == 201, response.text
    return response.json()["order"]


def webhook_state(sim: httpx.Client) -> dict[str, Any]:
    return sim.get("/_sim/state").json()["webhooks"][0]


# --- API --------------------------------------------------------------------------------------


def test_api_needs_consumer_key_and_secret(sim: httpx.Client) -> None:
    assert sim.get(ORDERS).json()["code"] == "woocommerce_rest_cannot_view"
    wrong = base64.b64encode(b"ck_demo:cs_wrong").decode()
    refused = sim.get(ORDERS, headers={"Authorization": f"Basic {wrong}"})
    assert refused.status_code == 401 and refused.json()["message"] == "Consumer secret is invalid."
    assert sim.get(ORDERS, headers=BASIC).json() == []
    by_query = sim.get(ORDERS, params={"consumer_key": "ck_demo", "consumer_secret": "cs_demo"})
    assert by_query.status_code == 200


def test_paging_headers_and_per_page_limit(sim: httpx.Client) -> None:
    created = [place(sim, deliver=False) for _ in range(12)]
    pages = [
        sim.get(ORDERS, params={"per_page": 5, "page": n, "orderby": "id"}, headers=BASIC)
        for n in (1, 2, 3, 4)
    ]
    assert [(p.headers["x-wp-total"], p.headers["x-wp-totalpages"]) for p in pages] == [
        ("12", "3")
    ] * 4
    assert [len(p.json()) for p in pages] == [5, 5, 2, 0]
    assert [o["id"] for p in pages for o in p.json()] == [o["id"] for o in reversed(created)]
    assert 'rel="next"' in pages[0].headers["link"] and 'rel="prev"' in pages[2].headers["link"]
    too_many = sim.get(ORDERS, params={"per_page": 101}, headers=BASIC)
    assert too_many.status_code == 400 and too_many.json()["code"] == "rest_invalid_param"


def test_modified_after_and_status_filters(sim: httpx.Client) -> None:
    old = place(
        sim,
        deliver=False,
        status="completed",
        date_created_gmt="2020-01-01T10:00:00",
        date_modified_gmt="2020-01-01T10:00:00",
    )
    new = place(
        sim,
        deliver=False,
        status="processing",
        date_created_gmt="2020-01-02T10:00:00",
        date_modified_gmt="2020-01-02T10:00:00",
    )

    def ids(**params: Any) -> list[int]:
        return [o["id"] for o in sim.get(ORDERS, params=params, headers=BASIC).json()]

    assert ids(modified_after="2020-01-01T10:00:00Z") == [new["id"]]  # exclusive
    assert ids(modified_after="2020-01-01T10:00:00", dates_are_gmt="true") == [new["id"]]
    # without an offset the time is site-local (UTC+1): 10:30 local is 09:30 UTC
    assert ids(modified_after="2020-01-01T10:30:00", order="asc") == [old["id"], new["id"]]
    assert ids(status="completed") == [old["id"]]
    assert ids(status="completed,processing") == [new["id"], old["id"]]
    assert new["date_modified"] == "2020-01-02T11:00:00" and new["date_paid_gmt"]


def test_get_one_order(sim: httpx.Client) -> None:
    order = place(sim, deliver=False)
    assert sim.get(f"{ORDERS}/{order['id']}", headers=BASIC).json()["number"] == str(order["id"])
    missing = sim.get(f"{ORDERS}/1", headers=BASIC)
    assert missing.status_code == 404
    assert missing.json()["code"] == "woocommerce_rest_shop_order_invalid_id"


# --- webhooks ---------------------------------------------------------------------------------


def test_new_webhook_pings_first_without_signature(sim: httpx.Client, receiver: Receiver) -> None:
    created = add_webhook(sim, receiver)
    [ping] = receiver.got(1)
    webhook_id = created["webhook"]["id"]
    assert ping.body == f"webhook_id={webhook_id}".encode()
    assert ping.headers["content-type"] == "application/x-www-form-urlencoded"
    assert not any(name.startswith("x-wc-webhook") for name in ping.headers)
    assert ping.headers["user-agent"].startswith("WooCommerce/")
    assert created["ping"]["state"] == "delivered" and created["ping"]["kind"] == "ping"


def test_order_created_is_signed_over_the_exact_body(sim: httpx.Client, receiver: Receiver) -> None:
    webhook = add_webhook(sim, receiver)["webhook"]
    payload = {k: v for k, v in woo_nok_order().items() if k not in ("id", "number")}
    payload["customer_note"] = "Ring på / ring the bell"
    order = place(sim, **payload)
    request = receiver.got(2)[1]
    headers = request.headers
    assert headers["x-wc-webhook-signature"] == hmac_b64(request.body)
    assert (
        headers["x-wc-webhook-topic"],
        headers["x-wc-webhook-resource"],
        headers["x-wc-webhook-event"],
    ) == ("order.created", "order", "created")
    assert headers["x-wc-webhook-source"] == "http://127.0.0.1:18092/"
    assert headers["x-wc-webhook-id"] == str(webhook["id"])
    assert len(headers["x-wc-webhook-delivery-id"]) == 32
    assert b"\\/" in request.body and b"\\u00e5" in request.body  # PHP's json_encode escapes
    body = json.loads(request.body)
    assert body["id"] == order["id"] and body["customer_note"] == payload["customer_note"]
    mapped = woocommerce_order(body, fallback_sku=None)  # what intake will do with it
    assert mapped.total == Decimal("1073.20") and mapped.external_id == str(order["id"])


def test_status_change_sends_order_updated(sim: httpx.Client, receiver: Receiver) -> None:
    add_webhook(sim, receiver, topic="order.updated")
    order = place(sim, status="pending", date_modified_gmt="2020-01-01T10:00:00")
    changed = sim.post(f"/_sim/orders/{order['id']}/status", json={"status": "processing"})
    assert changed.json()["order"]["date_paid_gmt"] is not None
    update = receiver.got(2)[1]  # the ping, then the update; creation went to no webhook
    assert update.headers["x-wc-webhook-topic"] == "order.updated"
    body = json.loads(update.body)
    assert body["status"] == "processing" and body["date_modified_gmt"] > "2020-01-01T10:00:00"


def test_drafts_are_not_announced(sim: httpx.Client, receiver: Receiver) -> None:
    add_webhook(sim, receiver)
    place(sim, status="auto-draft")
    place(sim, status="checkout-draft")
    deliveries = settled(sim, 2)
    assert [d["kind"] for d in deliveries] == ["ping", "webhook"]
    assert json.loads(deliveries[1]["body"])["status"] == "checkout-draft"


def test_success_resets_the_failure_count(sim: httpx.Client, receiver: Receiver) -> None:
    add_webhook(sim, receiver)
    receiver.status = 503
    place(sim)
    settled(sim, 2)
    assert webhook_state(sim)["failure_count"] == 1
    receiver.status = 302  # WooCommerce counts 200 to 302 as delivered, redirects unfollowed
    place(sim)
    settled(sim, 3)
    assert webhook_state(sim)["failure_count"] == 0


def test_repeated_failures_disable_the_webhook_without_retries(
    sim: httpx.Client, receiver: Receiver
) -> None:
    add_webhook(sim, receiver)
    receiver.status = 500
    for count in range(1, 7):  # failures 1 to 6 are counted
        place(sim)
        settled(sim, 1 + count)
        assert (webhook_state(sim)["status"], webhook_state(sim)["failure_count"]) == (
            "active",
            count,
        )
    place(sim)  # the seventh, with the count above 5, disables it
    settled(sim, 8)
    assert webhook_state(sim)["status"] == "disabled"
    place(sim)
    deliveries = settled(sim, 8)
    assert len(deliveries) == 8 and len(receiver.requests) == 8  # ping + 7, no retries
    enabled = sim.post(f"/_sim/webhooks/{webhook_state(sim)['id']}", json={"status": "active"})
    assert enabled.json()["webhook"]["status"] == "active"


# --- refunds ----------------------------------------------------------------------------------


def nok_order(sim: httpx.Client, **fields: Any) -> dict[str, Any]:
    """`woo_nok_order` placed in the simulator (its line ids 315 to 321 kept)."""
    payload = {k: v for k, v in woo_nok_order().items() if k not in ("id", "number")}
    return place(sim, **{**payload, **fields})


def refund(sim: httpx.Client, order: dict[str, Any], **body: Any) -> httpx.Response:
    return sim.post(f"/_sim/orders/{order['id']}/refunds", json=body)


def test_refund_is_recorded_as_woocommerce_records_it(sim: httpx.Client) -> None:
    order = nok_order(sim, deliver=False)
    made = refund(
        sim,
        order,
        line_items=[{"id": 316, "quantity": 1}],
        refund_shipping=True,
        reason="Kaffe returnert",
        deliver=False,
    )
    assert made.status_code == 201, made.text
    body = made.json()["refund"]
    assert (body["id"], body["amount"], body["reason"]) == (
        order["id"] + 1,
        "233.55",
        "Kaffe returnert",
    )
    [coffee] = body["line_items"]
    assert (
        coffee["quantity"],
        coffee["subtotal"],
        coffee["total"],
        coffee["total_tax"],
        coffee["sku"],
        coffee["price"],
    ) == (-1, "-117.00", "-117.00", "-17.55", "KAFFE-500", -117)
    assert coffee["taxes"] == [{"id": 2, "total": "-17.55", "subtotal": "-17.55"}]
    assert coffee["meta_data"][-1]["key"] == "_refunded_item_id"
    assert coffee["meta_data"][-1]["value"] == "316"
    assert coffee["id"] not in (315, 316, 317, 318, 319, 320, 321)  # a new order item
    [freight] = body["shipping_lines"]
    assert (freight["total"], freight["total_tax"], freight["taxes"]) == (
        "-79.20",
        "-19.80",
        [{"id": 1, "total": "-19.8", "subtotal": ""}],
    )
    assert {(t["rate_id"], t["tax_total"], t["shipping_tax_total"]) for t in body["tax_lines"]} == {
        (2, "-17.55", "0.00"),
        (1, "0.00", "-19.80"),
    }
    assert body["_links"]["up"][0]["href"].endswith(f"/wp-json/wc/v3/orders/{order['id']}")
    shown = made.json()["order"]
    assert shown["refunds"] == [{"id": body["id"], "reason": "Kaffe returnert", "total": "-233.55"}]
    assert shown["status"] == "processing"  # 1084.55 is left to refund


def test_partial_units_are_priced_at_six_decimals_and_the_amount_at_cents(
    sim: httpx.Client,
) -> None:
    line = {
        "id": 401,
        "name": "Filter",
        "product_id": 5,
        "variation_id": 0,
        "quantity": 3,
        "tax_class": "",
        "subtotal": "100.00",
        "subtotal_tax": "25.00",
        "total": "100.00",
        "total_tax": "25.00",
        "taxes": [{"id": 1, "total": "25", "subtotal": "25"}],
        "meta_data": [],
        "sku": "FILTER",
        "price": 33.333333,
    }
    order = place(sim, deliver=False, line_items=[line], total="125.00", total_tax="25.00")
    body = refund(sim, order, line_items=[{"id": 401, "quantity": 1}]).json()["refund"]
    [item] = body["line_items"]
    assert (item["total"], item["total_tax"], item["taxes"][0]["total"], item["price"]) == (
        "-33.33",
        "-8.33",
        "-8.333333",
        -33.333333,
    )
    assert body["amount"] == "41.67"
    two = refund(sim, order, line_items=[{"id": 401, "quantity": 2}]).json()["refund"]
    assert two["line_items"][0]["price"] == -66.666667  # total / max(1, quantity)


def test_refund_sends_order_updated_and_moves_date_modified(
    sim: httpx.Client, receiver: Receiver
) -> None:
    add_webhook(sim, receiver, topic="order.updated")
    order = nok_order(sim, date_modified_gmt="2020-01-01T10:00:00")
    made = refund(sim, order, line_items=[{"id": 315, "quantity": 1}]).json()
    update = receiver.got(2)[1]  # the ping, then the update
    assert update.headers["x-wc-webhook-topic"] == "order.updated"
    assert update.headers["x-wc-webhook-signature"] == hmac_b64(update.body)
    sent = json.loads(update.body)
    assert sent["refunds"] == [{"id": made["refund"]["id"], "reason": "", "total": "-900.00"}]
    assert sent["date_modified_gmt"] > "2020-01-01T10:00:00"
    found = sim.get(ORDERS, params={"modified_after": "2020-01-01T10:00:00Z"}, headers=BASIC)
    assert [o["id"] for o in found.json()] == [order["id"]]


def test_refunding_everything_marks_the_order_refunded(sim: httpx.Client) -> None:
    order = nok_order(sim, deliver=False)
    first = refund(
        sim,
        order,
        line_items=[{"id": 315, "quantity": 1}, {"id": 316, "quantity": 2}],
        refund_shipping=True,
    ).json()
    assert first["order"]["status"] == "processing"  # the fee is not refunded yet
    last = refund(sim, order, refund_fees=True).json()
    assert last["refund"]["amount"] == "50.00" and last["order"]["status"] == "refunded"
    assert [r["id"] for r in last["order"]["refunds"]] == [
        last["refund"]["id"],
        first["refund"]["id"],
    ]
    assert sum(Decimal(r["total"]) for r in last["order"]["refunds"]) == -Decimal("1318.10")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"line_items": [{"id": 999, "quantity": 1}]}, "999 is not a line item"),
        ({"line_items": [{"id": 316, "quantity": 3}]}, "more than the 2 unit(s)"),
        (
            {"line_items": [{"id": 316, "quantity": 2}, {"id": 316, "quantity": 1}]},
            "more than the 0",
        ),
        ({"line_items": [{"id": 316, "quantity": 0}]}, "positive integer"),
        ({"line_items": [{"id": 317, "quantity": 1}]}, "317 is not a line item"),  # shipping
        ({}, "nothing to refund"),
        ({"refund_shipping": "yes"}, "refund_shipping must be true or false"),
    ],
)
def test_refund_refusals(sim: httpx.Client, body: dict[str, Any], message: str) -> None:
    order = nok_order(sim, deliver=False)
    refused = refund(sim, order, **body)
    assert refused.status_code == 400 and message in refused.json()["error"]["message"]
    state = sim.get("/_sim/state").json()
    assert state["refunds"] == [] and state["orders"][0]["refunds"] == []


def test_units_and_charges_already_refunded_cannot_be_refunded_again(sim: httpx.Client) -> None:
    order = nok_order(sim, deliver=False)
    assert (
        refund(
            sim, order, line_items=[{"id": 316, "quantity": 1}], refund_shipping=True
        ).status_code
        == 201
    )
    again = refund(sim, order, line_items=[{"id": 316, "quantity": 2}])
    assert again.status_code == 400 and "more than the 1 unit(s)" in again.text
    shipping = refund(sim, order, refund_shipping=True)
    assert shipping.status_code == 400 and "already refunded" in shipping.text
    assert refund(sim, order, line_items=[{"id": 316, "quantity": 1}]).status_code == 201
    assert sim.post("/_sim/orders/1/refunds", json={}).status_code == 404


def test_refunds_api(sim: httpx.Client) -> None:
    order, other = nok_order(sim, deliver=False), nok_order(sim, deliver=False)
    first = refund(sim, order, line_items=[{"id": 315, "quantity": 1}]).json()["refund"]
    second = refund(sim, order, refund_shipping=True).json()["refund"]
    path = f"{ORDERS}/{order['id']}/refunds"
    assert sim.get(path).status_code == 401
    assert sim.get(f"{path}/{first['id']}", headers=BASIC).json() == first
    listed = sim.get(path, headers=BASIC)
    assert [r["id"] for r in listed.json()] == [second["id"], first["id"]]  # newest first
    assert listed.headers["x-wp-total"] == "2"
    assert sim.get(f"{ORDERS}/{other['id']}/refunds", headers=BASIC).json() == []
    unknown = sim.get(f"{path}/99999", headers=BASIC)
    assert (unknown.status_code, unknown.json()["code"]) == (
        404,
        "woocommerce_rest_shop_order_refund_invalid_id",
    )
    # another order's refund: WooCommerce hands WordPress a bare 404 as error data, read as 500
    foreign = sim.get(f"{ORDERS}/{other['id']}/refunds/{first['id']}", headers=BASIC)
    assert (foreign.status_code, foreign.json()) == (
        500,
        {
            "code": "woocommerce_rest_invalid_order_refund_id",
            "message": "Invalid order refund ID.",
            "data": 404,
        },
    )
    sim.post("/_sim/config", json={"foreign_refund_status": 404}).raise_for_status()
    assert sim.get(f"{path}/{order['id']}", headers=BASIC).status_code == 404  # an order's id
    assert sim.get(f"{path}/abc", headers=BASIC).json()["code"] == "rest_no_route"


def test_refund_body_typos_are_refused_not_ignored(sim: httpx.Client) -> None:
    order = nok_order(sim, deliver=False)
    typo = refund(sim, order, refund_shiping=True)
    assert typo.status_code == 400 and "refund_shiping" in typo.json()["error"]["message"]
    bare = place(
        sim, deliver=False, line_items=[{"name": "no id", "quantity": 1, "total": "10.00"}]
    )
    assert refund(sim, bare, line_items=[{"quantity": 1}]).status_code == 400
