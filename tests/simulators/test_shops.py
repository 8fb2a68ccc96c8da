"""The Shopify simulator over real HTTP: its Orders API (token, paging, filters) and its signed
webhooks (headers, HMAC, redelivery of the same delivery), received by a tiny local server."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from connectors.shops.shopify.mapping import shopify_order
from simulators.shops import create_shopify
from tests.support.payloads import shopify_nok_order
from tests.support.sim_server import simulator_fixtures
from tests.support.sim_shops import (  # noqa: F401  (fixtures)
    Receiver,
    hmac_b64,
    receiver_fixture,
    receiver_server_fixture,
    settled,
)

TOKEN = {"X-Shopify-Access-Token": "demo-shopify-token"}
ORDERS = "/admin/api/2025-01/orders.json"


server, sim = simulator_fixtures(create_shopify)


def subscribe(sim: httpx.Client, receiver: Receiver, *topics: str) -> str:
    address = f"{receiver.base_url}/webhooks/shopify/demo-shopify"
    for topic in topics:
        response = sim.post("/_sim/subscriptions", json={"topic": topic, "address": address})
        assert response.status_code == 201, response.text
    return address


def place(sim: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = sim.post("/_sim/orders", json=fields)
    assert response.status_code == 201, response.text
    return response.json()["order"]


def quiet_orders(sim: httpx.Client, count: int) -> list[dict[str, Any]]:
    return [
        place(
            sim,
            deliver=False,
            email=f"buyer{n}@example.no",
            updated_at=f"2020-01-{n + 1:02d}T12:00:00+01:00",
        )
        for n in range(count)
    ]


# --- API --------------------------------------------------------------------------------------


def test_api_needs_the_access_token(sim: httpx.Client) -> None:
    for headers in ({}, {"X-Shopify-Access-Token": "wrong"}):
        response = sim.get(ORDERS, headers=headers)
        assert response.status_code == 401
        assert "Invalid API key or access token" in response.json()["errors"]
    assert sim.get(ORDERS, headers=TOKEN).json() == {"orders": []}


def test_get_one_order_and_unknown_ids(sim: httpx.Client) -> None:
    order = place(sim, deliver=False, email="kari@example.no")
    found = sim.get(f"/admin/api/2024-10/orders/{order['id']}.json", headers=TOKEN)
    assert found.json()["order"]["email"] == "kari@example.no"
    assert order["name"] == "#1001" and order["order_number"] == 1001
    missing = sim.get("/admin/api/2024-10/orders/1.json", headers=TOKEN)
    assert missing.status_code == 404 and missing.json() == {"errors": "Not Found"}


def test_cursor_paging_with_link_header(sim: httpx.Client) -> None:
    created = quiet_orders(sim, 7)
    first = sim.get(ORDERS, params={"limit": 3, "status": "any"}, headers=TOKEN)
    seen = [order["id"] for order in first.json()["orders"]]
    assert 'rel="previous"' not in first.headers["link"]
    url = first.headers["link"].split(";")[0].strip("<>")
    pages = 1
    while url:
        page = sim.get(url, headers=TOKEN)
        pages += 1
        seen += [order["id"] for order in page.json()["orders"]]
        links = dict(
            reversed(part.split("; ")) for part in page.headers.get("link", "").split(", ") if part
        )
        assert 'rel="previous"' in links
        url = links.get('rel="next"', "").strip("<>")
    assert pages == 3
    assert seen == sorted((order["id"] for order in created), reverse=True)  # newest first


def test_previous_link_leads_back(sim: httpx.Client) -> None:
    quiet_orders(sim, 5)
    first = sim.get(ORDERS, params={"limit": 2}, headers=TOKEN)
    second = sim.get(first.headers["link"].split(";")[0].strip("<>"), headers=TOKEN)
    previous = next(
        part.split(";")[0].strip("<> ")
        for part in second.headers["link"].split(", ")
        if 'rel="previous"' in part
    )
    assert sim.get(previous, headers=TOKEN).json() == first.json()


def test_page_info_cannot_be_combined_with_filters_and_limit_is_capped(sim: httpx.Client) -> None:
    quiet_orders(sim, 3)
    first = sim.get(ORDERS, params={"limit": 1}, headers=TOKEN)
    page_info = parse_qs(urlparse(first.headers["link"].split(";")[0].strip("<>")).query)[
        "page_info"
    ][0]
    refused = sim.get(ORDERS, params={"page_info": page_info, "status": "any"}, headers=TOKEN)
    assert refused.status_code == 400
    assert "cannot be passed when page_info is present" in refused.json()["errors"]["status"]
    assert sim.get(ORDERS, params={"limit": 251}, headers=TOKEN).status_code == 400
    assert sim.get(ORDERS, params={"limit": 250}, headers=TOKEN).status_code == 200


def test_status_and_updated_at_filters(sim: httpx.Client) -> None:
    orders = quiet_orders(sim, 4)  # updated on 1 to 4 January 2020
    sim.post(f"/_sim/orders/{orders[0]['id']}/cancel", json={"deliver": False})

    def ids(**params: Any) -> list[int]:
        return [o["id"] for o in sim.get(ORDERS, params=params, headers=TOKEN).json()["orders"]]

    assert orders[0]["id"] not in ids()  # open by default
    assert ids(status="cancelled") == [orders[0]["id"]]
    assert ids(status="any", updated_at_min="2020-01-03T12:00:00+01:00") == [
        orders[3]["id"],
        orders[2]["id"],
        orders[0]["id"],
    ]  # the cancel updated the first
    # both bounds are inclusive: the 3rd was updated at 11:00:00Z, the 4th a day later
    assert ids(
        status="any", updated_at_min="2020-01-03T11:00:01Z", updated_at_max="2020-01-04T11:00:00Z"
    ) == [orders[3]["id"]]
    assert ids(
        status="any", updated_at_min="2020-01-03T11:00:00Z", updated_at_max="2020-01-04T10:59:59Z"
    ) == [orders[2]["id"]]


# --- webhooks ---------------------------------------------------------------------------------


def test_order_creation_sends_a_signed_orders_create(sim: httpx.Client, receiver: Receiver) -> None:
    subscribe(sim, receiver, "orders/create")
    order = place(sim, **{k: v for k, v in shopify_nok_order().items() if k != "id"})
    [request] = receiver.got(1)
    headers = request.headers
    assert request.path == "/webhooks/shopify/demo-shopify"
    assert headers["x-shopify-hmac-sha256"] == hmac_b64(request.body)
    assert headers["x-shopify-topic"] == "orders/create"
    assert headers["x-shopify-shop-domain"] == "demo-shop.myshopify.com"
    assert headers["x-shopify-api-version"] == "2025-01"
    assert uuid.UUID(headers["x-shopify-webhook-id"]) and headers["x-shopify-event-id"]
    assert datetime.fromisoformat(headers["x-shopify-triggered-at"])
    body = json.loads(request.body)
    assert body["id"] == order["id"] and body["name"] == "#1001"
    mapped = shopify_order(body, fallback_sku=None)  # what intake will do with it
    assert mapped.total == Decimal("1267.20") and mapped.external_id == str(order["id"])
    [delivery] = settled(sim, 1)
    assert (delivery["state"], delivery["status"]) == ("delivered", 200)


def test_pay_and_cancel_send_their_topics_and_bump_updated_at(
    sim: httpx.Client, receiver: Receiver
) -> None:
    subscribe(sim, receiver, "orders/paid", "orders/cancelled", "orders/updated")
    order = place(sim, updated_at="2020-01-01T00:00:00+01:00")
    paid = sim.post(f"/_sim/orders/{order['id']}/pay").json()["order"]
    assert paid["financial_status"] == "paid" and paid["updated_at"] > order["updated_at"]
    assert sim.post(f"/_sim/orders/{order['id']}/pay").status_code == 409
    cancelled = sim.post(f"/_sim/orders/{order['id']}/cancel", json={"reason": "fraud"})
    assert cancelled.json()["order"]["cancel_reason"] == "fraud"
    requests = receiver.got(4)
    topics = sorted(r.headers["x-shopify-topic"] for r in requests)
    assert topics == ["orders/cancelled", "orders/paid", "orders/updated", "orders/updated"]
    assert all(r.headers["x-shopify-hmac-sha256"] == hmac_b64(r.body) for r in requests)
    assert len({r.headers["x-shopify-webhook-id"] for r in requests}) == 4


def test_redelivery_repeats_the_same_delivery(sim: httpx.Client, receiver: Receiver) -> None:
    subscribe(sim, receiver, "orders/create")
    order = place(sim, email="kari@example.no")
    receiver.got(1)
    response = sim.post(
        f"/_sim/orders/{order['id']}/redeliver", json={"topic": "orders/create", "times": 5}
    )
    assert len(response.json()["redelivered"]) == 5
    requests = receiver.got(6)
    assert len({r.headers["x-shopify-webhook-id"] for r in requests}) == 1
    assert len({r.headers["x-shopify-event-id"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    deliveries = settled(sim, 6)
    assert [d["redelivery_of"] for d in deliveries] == [None] + [deliveries[0]["seq"]] * 5


def test_deliver_false_sends_nothing_and_failures_are_recorded(
    sim: httpx.Client, receiver: Receiver
) -> None:
    subscribe(sim, receiver, "orders/create")
    place(sim, deliver=False)
    assert sim.get("/_sim/deliveries").json()["total"] == 0
    receiver.status = 500
    place(sim)
    [failed] = settled(sim, 1)
    assert (failed["state"], failed["status"]) == ("failed", 500)
    state = sim.get("/_sim/state").json()
    assert len(state["orders"]) == 2 and state["webhooks"][0]["topic"] == "orders/create"


def test_unreachable_address_is_a_failed_delivery(sim: httpx.Client) -> None:
    sim.post(
        "/_sim/subscriptions",
        json={"topic": "orders/create", "address": "http://127.0.0.1:9/nowhere"},
    )
    place(sim)
    [failed] = settled(sim, 1)
    assert failed["state"] == "failed" and failed["status"] is None and failed["error"]
