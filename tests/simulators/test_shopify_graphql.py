"""The Shopify simulator as shops run it now, over real HTTP: the GraphQL Admin API (read by the
official `ShopifyAPI` package's GraphQL client, unchanged), cursor paging, the cost throttle,
client-credentials tokens, and refunds with their signed `refunds/create` webhook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.shops.settings import ShopSettings
from connectors.shops.shopify.graphql import order_refunds
from connectors.shops.shopify.mapping import shopify_order
from connectors.shops.shopify.rest import shopify_orders_since
from simulators.shops import create_shopify
from tests.support.payloads import load, shopify_nok_order
from tests.support.sim_server import simulator_fixtures
from tests.support.sim_shops import (  # noqa: F401  (fixtures)
    Receiver,
    hmac_b64,
    poll,
    receiver_fixture,
    receiver_server_fixture,
    settled,
)

STATIC = {"X-Shopify-Access-Token": "demo-shopify-token"}
GRAPHQL = "/admin/api/2025-01/graphql.json"
CREDENTIALS = {
    "grant_type": "client_credentials",
    "client_id": "demo-shopify-client-id",
    "client_secret": "demo-shopify-client-secret",
}
ORDERS_PAGE = """query Page($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    edges { cursor node { id legacyResourceId email updatedAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""


server, sim = simulator_fixtures(create_shopify)


def place(sim: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = sim.post("/_sim/orders", json={"deliver": False, **fields})
    assert response.status_code == 201, response.text
    return response.json()["order"]


def nok_order(sim: httpx.Client, **extra: Any) -> dict[str, Any]:
    body = {k: v for k, v in shopify_nok_order().items() if k not in ("id", "updated_at")}
    body["line_items"].append(
        {
            "id": 3,
            "sku": "FILTER-1",
            "title": "Filterpapir",
            "quantity": 3,
            "price": "100.00",
            "taxable": True,
            "tax_lines": [{"title": "MVA 25 %", "rate": 0.25, "price": "60.00"}],
            "discount_allocations": [],
        }
    )
    body["total_price"] = body["current_total_price"] = "1567.20"
    return place(sim, **{**body, **extra})


def token(sim: httpx.Client) -> str:
    response = sim.post("/admin/oauth/access_token", data=CREDENTIALS)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def graphql(
    sim: httpx.Client, document: str, headers: dict[str, str] | None = None, **variables: Any
) -> httpx.Response:
    return sim.post(
        GRAPHQL,
        json={"query": document, "variables": variables},
        headers=headers if headers is not None else STATIC,
    )


# --- the official ShopifyAPI package ------------------------------------------------------------


@pytest.fixture
def shopify_session_class() -> Iterator[Any]:
    """`shopify.Session` with its class settings restored afterwards (they are global)."""
    shopify = pytest.importorskip("shopify")
    saved = {
        name: getattr(shopify.Session, name) for name in ("protocol", "myshopify_domain", "port")
    }
    yield shopify
    shopify.Session.setup(**saved)
    shopify.ShopifyResource.clear_session()


def test_official_shopifyapi_graphql_client_reads_orders(
    sim: httpx.Client, shopify_session_class: Any
) -> None:
    shopify = shopify_session_class
    placed = nok_order(sim)
    host, port = str(sim.base_url.host), int(sim.base_url.port or 80)
    # The package builds https://<shop>.myshopify.com[:port]/admin/api/<version>/graphql.json
    # from its public Session settings; "127" + "." + "0.0.1" is our loopback address.
    first, _, rest = host.partition(".")
    shopify.Session.setup(protocol="http", myshopify_domain=rest, port=port)
    session = shopify.Session(first, "2025-01", token(sim))
    shopify.ShopifyResource.activate_session(session)
    answer = json.loads(
        shopify.GraphQL().execute(
            "query($q: String) { orders(first: 5, query: $q) { nodes { id name "
            "totalPriceSet { shopMoney { amount currencyCode } } lineItems(first: 5) { nodes "
            "{ sku quantity } } } } }",
            variables={"q": "updated_at:>'2020-01-01T00:00:00Z'"},
        )
    )
    [order] = answer["data"]["orders"]["nodes"]
    assert order["id"] == f"gid://shopify/Order/{placed['id']}"
    assert order["totalPriceSet"]["shopMoney"] == {"amount": "1567.2", "currencyCode": "NOK"}
    skus = [line["sku"] for line in order["lineItems"]["nodes"]]
    assert skus == [line["sku"] for line in placed["line_items"]] and skus[-1] == "FILTER-1"
    assert answer["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 2000.0
    calls = sim.get("/_sim/calls").json()["calls"]
    assert calls[-1]["path"] == GRAPHQL and calls[-1]["method"] == "POST"


# --- paging and search --------------------------------------------------------------------------


def test_cursor_paging_by_updated_at_with_search(sim: httpx.Client) -> None:
    orders = [
        place(sim, email=f"buyer{n}@example.no", updated_at=f"2020-01-{7 - n:02d}T12:00:00+01:00")
        for n in range(7)
    ]
    seen, after, pages = [], None, 0
    while True:
        page = graphql(
            sim, ORDERS_PAGE, first=3, after=after, query="updated_at:>'2020-01-01T11:00:00Z'"
        ).json()["data"]["orders"]
        pages += 1
        seen += [edge["node"]["legacyResourceId"] for edge in page["edges"]]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # the order updated at exactly 11:00:00Z is excluded: `>` is exclusive
    expected = [str(o["id"]) for o in sorted(orders[:-1], key=lambda o: o["updated_at"])]
    assert seen == expected and pages == 2
    inclusive = graphql(
        sim, ORDERS_PAGE, first=10, query="updated_at:>='2020-01-01T11:00:00Z'"
    ).json()
    assert len(inclusive["data"]["orders"]["edges"]) == 7


def test_connections_need_first_and_unknown_fields_fail(sim: httpx.Client) -> None:
    missing = graphql(sim, "{ orders { nodes { id } } }").json()
    assert missing["errors"][0]["message"] == "you must provide one of first or last"
    typo = graphql(sim, "{ orders(first: 1) { nodes { id totalPrice } } }").json()
    assert "data" not in typo
    assert typo["errors"][0]["extensions"] == {
        "code": "undefinedField",
        "typeName": "Order",
        "fieldName": "totalPrice",
    }
    unknown = graphql(sim, '{ orders(first: 1, query: "colour:red") { nodes { id } } }').json()
    assert unknown["extensions"]["search"][0]["warnings"][0]["field"] == "colour"


# --- cost throttle ------------------------------------------------------------------------------


def test_throttled_when_the_bucket_is_empty_and_restored_over_time(sim: httpx.Client) -> None:
    sim.post("/_sim/config", json={"graphql_bucket_size": 100, "graphql_restore_rate": 20})
    query = "{ orders(first: 40) { nodes { id } } }"  # 2 + 40 × 1 = 42 points
    first = graphql(sim, query).json()
    cost = first["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 42 and cost["actualQueryCost"] == 2  # no orders yet
    assert cost["throttleStatus"]["maximumAvailable"] == 100.0
    assert cost["throttleStatus"]["restoreRate"] == 20.0
    sim.post("/_sim/config", json={"graphql_bucket_size": 30})  # a fresh bucket of 30
    throttled = graphql(sim, query)
    assert throttled.status_code == 200
    body = throttled.json()
    assert "data" not in body and body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    sim.post("/_sim/config", json={"graphql_throttled_status": 429})
    assert graphql(sim, query).status_code == 429
    assert graphql(sim, "{ shop { name } }").json()["data"]["shop"]["name"] == "demo-shop"


def test_a_query_over_the_single_query_limit_is_refused(sim: httpx.Client) -> None:
    body = graphql(
        sim, "{ orders(first: 250) { nodes { lineItems(first: 250) { nodes { sku } } } } }"
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


def test_reconciliation_client_waits_out_the_throttle(sim: httpx.Client, server: str) -> None:
    for n in range(4):
        nok_order(sim, email=f"b{n}@example.no")
    sim.post("/_sim/config", json={"graphql_bucket_size": 1000, "graphql_restore_rate": 2000})
    shop = ShopSettings(
        api_url=server,
        client_id="demo-shopify-client-id",
        client_secret="demo-shopify-client-secret",
        api_version="2025-01",
    )
    found = list(shopify_orders_since(shop, datetime(2020, 1, 1, tzinfo=UTC), sim))
    assert len(found) == 4
    assert {shopify_order(o, fallback_sku=None).total for o in found} == {Decimal("1567.20")}


# --- tokens -------------------------------------------------------------------------------------


def test_client_credentials_token_and_its_expiry(sim: httpx.Client) -> None:
    wrong = sim.post("/admin/oauth/access_token", data={**CREDENTIALS, "client_secret": "x"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client"
    granted = sim.post("/admin/oauth/access_token", data=CREDENTIALS).json()
    assert granted["expires_in"] == 86399 and granted["scope"]
    headers = {"X-Shopify-Access-Token": granted["access_token"]}
    assert graphql(sim, "{ shop { name } }", headers).status_code == 200
    assert sim.get("/admin/api/2025-01/orders.json", headers=headers).status_code == 200
    assert graphql(sim, "{ shop { name } }", {}).status_code == 401
    sim.post("/_sim/tokens/expire")
    expired = graphql(sim, "{ shop { name } }", headers)
    assert expired.status_code == 401 and "Invalid API key" in expired.json()["errors"]
    assert graphql(sim, "{ shop { name } }").status_code == 200  # the static token lives on


def test_short_token_lifetime_option(sim: httpx.Client) -> None:
    sim.post("/_sim/config", json={"token_lifetime_seconds": 1})
    granted = sim.post("/admin/oauth/access_token", json=CREDENTIALS).json()
    assert granted["expires_in"] == 1
    headers = {"X-Shopify-Access-Token": granted["access_token"]}
    poll(lambda: graphql(sim, "{ shop { name } }", headers).status_code == 401, 5.0)


# --- refunds ------------------------------------------------------------------------------------


def test_refund_is_recorded_and_sent_as_signed_refunds_create(
    sim: httpx.Client, receiver: Receiver
) -> None:
    sim.post(
        "/_sim/subscriptions",
        json={"topic": "refunds/create", "address": f"{receiver.base_url}/webhooks/shopify"},
    )
    order = nok_order(sim)
    response = sim.post(
        f"/_sim/orders/{order['id']}/refunds",
        json={
            "refund_line_items": [
                {"line_item_id": 1, "quantity": 1},
                {"line_item_id": 3, "quantity": 2, "restock_type": "return"},
            ]
        },
    )
    assert response.status_code == 201, response.text
    [request] = receiver.got(1)
    assert request.headers["x-shopify-topic"] == "refunds/create"
    assert request.headers["x-shopify-hmac-sha256"] == hmac_b64(request.body)
    refund = json.loads(request.body)
    assert refund["order_id"] == order["id"]
    assert set(refund) == set(load("refunds/shopify_refund"))  # the documented example's shape
    items = {item["line_item_id"]: item for item in refund["refund_line_items"]}
    assert (
        items[1]["quantity"] == 1
        and items[1]["subtotal_set"]["shop_money"]["amount"] == "900.00"
        and items[1]["total_tax_set"]["shop_money"]["amount"] == "180.00"
    )
    assert items[3]["quantity"] == 2 and items[3]["subtotal"] == 200.0
    assert items[3]["line_item"]["sku"] == "FILTER-1"
    assert refund["transactions"][0]["kind"] == "refund"
    assert refund["transactions"][0]["amount"] == "1100.00"  # prices include VAT
    [delivery] = settled(sim, 1)
    assert delivery["order_id"] == str(order["id"]) and delivery["state"] == "delivered"
    rest = sim.get(f"/admin/api/2025-01/orders/{order['id']}.json", headers=STATIC).json()
    assert rest["order"]["financial_status"] == "partially_refunded"
    assert rest["order"]["current_total_price"] == "467.20"
    assert [line["current_quantity"] for line in rest["order"]["line_items"]] == [0, 2, 1]


def test_refund_read_back_by_graphql_matches_the_webhook(sim: httpx.Client, server: str) -> None:
    order = nok_order(sim)
    made = sim.post(
        f"/_sim/orders/{order['id']}/refunds",
        json={"refund_line_items": [{"line_item_id": 3, "quantity": 3}]},
    ).json()["refund"]
    shop = ShopSettings(api_url=server, access_token="demo-shopify-token", api_version="2025-01")
    [read] = order_refunds(shop, order["id"], sim)
    assert (read["id"], read["order_id"]) == (made["id"], order["id"])
    assert [
        (i["line_item_id"], i["quantity"], i["subtotal"], i["total_tax"])
        for i in read["refund_line_items"]
    ] == [(3, 3, 300.0, 60.0)]
    assert read["transactions"][0]["amount"] == made["transactions"][0]["amount"] == "300.00"


def test_refunding_more_than_is_left_is_refused(sim: httpx.Client) -> None:
    order = nok_order(sim)
    sim.post(
        f"/_sim/orders/{order['id']}/refunds",
        json={"refund_line_items": [{"line_item_id": 3, "quantity": 2}]},
    )
    too_many = sim.post(
        f"/_sim/orders/{order['id']}/refunds",
        json={"refund_line_items": [{"line_item_id": 3, "quantity": 2}]},
    )
    assert too_many.status_code == 400 and "1 unit(s)" in too_many.text
    unknown = sim.post(
        f"/_sim/orders/{order['id']}/refunds",
        json={"refund_line_items": [{"line_item_id": 99, "quantity": 1}]},
    )
    assert unknown.status_code == 400
