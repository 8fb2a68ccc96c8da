"""The WooCommerce simulator as WooCommerce's own Python client sees it (issue 17).

`woocommerce.API(url, key, secret, version="wc/v3")` on a plain-http URL signs every request with
OAuth 1.0a (HMAC-SHA256) as WooCommerce requires there; unchanged, it lists orders page by page,
reads one order and its refunds. A wrong secret, a replayed nonce or an old timestamp gets
WooCommerce's 401; HMAC-SHA1, which WooCommerce also takes, is checked by hand."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from woocommerce import API

from simulators.shops import create_woocommerce
from simulators.shops.woocommerce_oauth import string_to_sign
from tests.support.payloads import woo_nok_order
from tests.support.sim_server import simulator_fixtures

server, sim = simulator_fixtures(create_woocommerce)
ORDERS = "/wp-json/wc/v3/orders"


def client(url: str, secret: str = "cs_demo") -> API:
    return API(url=url, consumer_key="ck_demo", consumer_secret=secret, version="wc/v3", timeout=10)


def place(sim: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = sim.post("/_sim/orders", json=fields)
    assert response.status_code == 201, response.text
    return dict(response.json()["order"])


def test_the_official_client_lists_pages_reads_an_order_and_its_refunds(
    server: str, sim: httpx.Client
) -> None:
    created = [place(sim, deliver=False) for _ in range(7)]
    api = client(server)
    pages = [
        api.get("orders", params={"per_page": 3, "page": n, "orderby": "id", "order": "asc"})
        for n in (1, 2, 3)
    ]
    assert all(page.status_code == 200 for page in pages), [p.text for p in pages]
    assert [o["id"] for p in pages for o in p.json()] == [o["id"] for o in created]
    assert pages[0].headers["X-WP-TotalPages"] == "3"
    payload = {k: v for k, v in woo_nok_order().items() if k not in ("id", "number")}
    order = place(sim, deliver=False, **payload)
    refund = sim.post(
        f"/_sim/orders/{order['id']}/refunds",
        json={
            "line_items": [{"id": order["line_items"][0]["id"], "quantity": 1}],
            "deliver": False,
        },
    )
    assert refund.status_code == 201, refund.text
    one = api.get(f"orders/{order['id']}")
    assert one.status_code == 200 and one.json()["id"] == order["id"]
    refunds = api.get(f"orders/{order['id']}/refunds")
    assert refunds.status_code == 200
    assert [r["id"] for r in refunds.json()] == [refund.json()["refund"]["id"]]


def test_a_wrong_signature_is_refused_as_woocommerce_refuses_it(
    server: str, sim: httpx.Client
) -> None:
    refused = client(server, secret="cs_wrong").get("orders")
    assert refused.status_code == 401
    assert refused.json()["code"] == "woocommerce_rest_authentication_error"
    assert refused.json()["message"] == "Invalid signature - provided signature does not match."


def signed(server: str, method: str, stamp: int, nonce: str) -> dict[str, str]:
    params = {
        "oauth_consumer_key": "ck_demo",
        "oauth_timestamp": str(stamp),
        "oauth_nonce": nonce,
        "oauth_signature_method": method,
    }
    base = string_to_sign("GET", f"{server}{ORDERS}", list(params.items()))
    digest = hmac.new(
        b"cs_demo&", base.encode(), hashlib.sha1 if method == "HMAC-SHA1" else hashlib.sha256
    ).digest()
    return {**params, "oauth_signature": base64.b64encode(digest).decode()}


def test_sha1_replayed_nonces_and_old_timestamps(server: str, sim: httpx.Client) -> None:
    now = int(time.time())
    params = signed(server, "HMAC-SHA1", now, "n-1")
    assert sim.get(f"{ORDERS}?{urlencode(params)}").status_code == 200
    again = sim.get(f"{ORDERS}?{urlencode(params)}")
    assert again.status_code == 401
    assert again.json()["message"] == "Invalid nonce - nonce has already been used."
    old = sim.get(f"{ORDERS}?{urlencode(signed(server, 'HMAC-SHA1', now - 3600, 'n-2'))}")
    assert old.status_code == 401 and old.json()["message"] == "Invalid timestamp."
    md5 = {**signed(server, "HMAC-SHA1", now, "n-3"), "oauth_signature_method": "HMAC-MD5"}
    assert (
        sim.get(f"{ORDERS}?{urlencode(md5)}").json()["message"]
        == "Invalid signature - signature method is invalid."
    )
