"""`BearerAuth` under another header (Shopify's X-Shopify-Access-Token, no prefix): one fresh
token after a 401, one more send, never a second retry; the legacy REST orders read uses it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from connectors.http import BearerAuth
from connectors.shops.settings import ShopSettings
from connectors.shops.shopify.rest import shopify_rest_orders_since
from tests.support.fakes import fake_store


class Tokens:
    def __init__(self) -> None:
        self.issued = ["t1"]

    def get(self) -> str:
        return self.issued[-1]

    def refresh(self, stale: str | None) -> str:
        assert stale == self.issued[-1]
        self.issued.append(f"t{len(self.issued) + 1}")
        return self.issued[-1]


def test_the_header_and_prefix_are_the_callers_and_a_401_is_retried_once() -> None:
    seen: list[dict[str, str | None]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(
            {
                "token": request.headers.get("x-shopify-access-token"),
                "authorization": request.headers.get("authorization"),
            }
        )
        return httpx.Response(401)

    tokens = Tokens()
    auth = BearerAuth(tokens, header="X-Shopify-Access-Token", prefix="")
    with httpx.Client(transport=httpx.MockTransport(handle)) as client:
        assert client.get("http://shop.test/x", auth=auth).status_code == 401
    assert seen == [{"token": "t1", "authorization": None}, {"token": "t2", "authorization": None}]
    assert tokens.issued == ["t1", "t2"]


def test_the_default_is_authorization_bearer() -> None:
    headers: list[str | None] = []

    def handle(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers.get("authorization"))
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(handle)) as client:
        client.get("http://erp.test/x", auth=BearerAuth(Tokens()))
    assert headers == ["Bearer t1"]


def test_shopify_rest_orders_get_a_new_token_after_a_401() -> None:
    issued: list[str] = []
    order_tokens: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/admin/oauth/access_token":
            issued.append(f"shpat_{len(issued) + 1}")
            return httpx.Response(200, json={"access_token": issued[-1], "expires_in": 86399})
        order_tokens.append(request.headers["x-shopify-access-token"])
        if order_tokens[-1] == "shpat_1":
            return httpx.Response(401, json={"errors": "[API] Invalid access token"})
        assert request.url.params["updated_at_min"].startswith("2026-01-01")
        return httpx.Response(200, json={"orders": [{"id": 1}]})

    shop = ShopSettings(
        api_url="http://127.0.0.1:9",
        client_id="app-id",
        client_secret="app-secret",
        api_version="2025-01",
        api="rest",
    )
    store = fake_store()
    with httpx.Client(transport=httpx.MockTransport(handle)) as client:
        orders = list(
            shopify_rest_orders_since(shop, datetime(2026, 1, 1, tzinfo=UTC), client, store)
        )
    assert orders == [{"id": 1}]
    assert order_tokens == ["shpat_1", "shpat_2"] and issued == ["shpat_1", "shpat_2"]
