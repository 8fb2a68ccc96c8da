"""The Shopify GraphQL reconciliation client without a network: tokens cached in (fake) Redis and
renewed, a 401 answered by one new token, the cost throttle waited out, and GraphQL orders
converted to the REST shape so that our one mapper gives the same canonical order."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connectors.errors import PermanentError, RateLimited
from connectors.shops.settings import ShopSettings
from connectors.shops.shopify import graphql as shopify_graphql
from connectors.shops.shopify.auth import shopify_tokens
from connectors.shops.shopify.mapping import shopify_order
from connectors.shops.shopify.rest import shopify_orders_since
from connectors.tokens import SharedToken
from core.store import TOKENS, Store
from simulators.shops.shopify_graphql import Bucket, execute
from tests.support.fakes import fake_store
from tests.support.payloads import shopify_current_test_order, shopify_nok_order

BASE = "http://127.0.0.1:9"
GRANTED = ShopSettings(
    api_url=BASE, client_id="app-id", client_secret="app-secret", api_version="2025-01"
)


def store() -> Store:
    return fake_store()


class FakeShopify:
    """Token endpoint and GraphQL endpoint with scripted answers, counting calls."""

    def __init__(self, graphql: list[Any] | None = None, lifetime: int = 86399) -> None:
        self.graphql = graphql or []
        self.lifetime = lifetime
        self.tokens_issued: list[str] = []
        self.graphql_tokens: list[str] = []
        self.revoked: set[str] = set()

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/admin/oauth/access_token":
            form = dict(httpx.QueryParams(request.content.decode()))
            if (form.get("client_id"), form.get("client_secret")) != ("app-id", "app-secret"):
                return httpx.Response(400, json={"error": "invalid_client"})
            token = f"shpat_{len(self.tokens_issued) + 1}"
            self.tokens_issued.append(token)
            return httpx.Response(
                200,
                json={"access_token": token, "scope": "read_orders", "expires_in": self.lifetime},
            )
        token = request.headers.get("x-shopify-access-token", "")
        self.graphql_tokens.append(token)
        if token in self.revoked:
            return httpx.Response(401, json={"errors": "[API] Invalid API key or access token"})
        answer = self.graphql.pop(0)
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))


def cost(requested: int, available: int, actual: int | None = 10) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": 1000.0,
                "currentlyAvailable": available,
                "restoreRate": 50.0,
            },
        }
    }


def empty_page(available: int = 990) -> dict[str, Any]:
    return {
        "data": {"orders": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []}},
        "extensions": cost(100, available),
    }


THROTTLED = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}


# --- tokens -------------------------------------------------------------------------------------


def test_client_credentials_token_is_cached_in_redis_and_shared() -> None:
    shop, shared = FakeShopify(), store()
    with shop.client() as client:
        first = shopify_tokens(GRANTED, client, shared).get()
        second = shopify_tokens(GRANTED, client, shared).get()  # another worker
    assert first == second == "shpat_1" and shop.tokens_issued == ["shpat_1"]
    ttl = shared.redis.pttl(TOKENS.key(shopify_tokens(GRANTED, client, shared).name))
    assert 86399_000 - 300_000 - 5_000 < ttl <= 86399_000 - 300_000


def test_a_short_lived_token_is_renewed_before_it_expires() -> None:
    shop, shared = FakeShopify(lifetime=60), store()
    with shop.client() as client:
        shopify_tokens(GRANTED, client, shared).get()
    name = shopify_tokens(GRANTED, client, shared).name
    assert shared.redis.pttl(TOKENS.key(name)) <= 30_000  # kept half its life
    shared.redis.delete(TOKENS.key(name))  # what Redis does when that time is up
    with shop.client() as client:
        assert shopify_tokens(GRANTED, client, shared).get() == "shpat_2"


def test_a_401_drops_the_token_and_fetches_one_more() -> None:
    shop, shared = FakeShopify([empty_page()]), store()
    shop.revoked.add("shpat_1")
    with shop.client() as client:
        orders = list(
            shopify_orders_since(GRANTED, datetime(2026, 1, 1, tzinfo=UTC), client, shared)
        )
    assert orders == []
    assert shop.tokens_issued == ["shpat_1", "shpat_2"]
    assert shop.graphql_tokens == ["shpat_1", "shpat_2"]
    held = shopify_tokens(GRANTED, httpx.Client(), shared)
    assert isinstance(held, SharedToken)
    grant = held.load()
    assert grant is not None and grant.access_token == "shpat_2"
    assert "shpat_2" not in str(shared.token_get(held.name))  # sealed in Redis


def test_wrong_client_secret_is_a_permanent_error() -> None:
    shop = FakeShopify()
    wrong = GRANTED.model_copy(update={"client_secret": "nope"})
    with shop.client() as client, pytest.raises(PermanentError, match="client credentials"):
        shopify_tokens(ShopSettings.model_validate(wrong.model_dump()), client, store()).get()


def test_static_token_is_still_accepted_and_needs_no_token_call() -> None:
    shop = FakeShopify([empty_page()])
    static = ShopSettings(api_url=BASE, access_token="shpat_static")
    with shop.client() as client:
        assert (
            list(shopify_orders_since(static, datetime(2026, 1, 1, tzinfo=UTC), client, store()))
            == []
        )
    assert shop.tokens_issued == [] and shop.graphql_tokens == ["shpat_static"]


def test_no_credentials_at_all_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError, match="client_id"):
        shopify_tokens(ShopSettings(api_url=BASE), httpx.Client(), store())


# --- throttle -----------------------------------------------------------------------------------


def test_throttled_query_is_retried_after_the_restore_time() -> None:
    throttled = {**THROTTLED, "extensions": cost(500, 100, actual=None)}
    shop, slept = FakeShopify([throttled, empty_page()]), []
    with shop.client() as client:
        api = shopify_graphql.ShopifyGraphQL(GRANTED, client, store(), slept.append)
        api.run(shopify_graphql.ORDERS_QUERY, {"query": "", "after": None})
    assert len(slept) == 1 and slept[0] == pytest.approx(400 / 50, abs=0.05)


def test_throttled_with_status_429_is_handled_the_same() -> None:
    throttled = httpx.Response(429, json={**THROTTLED, "extensions": cost(200, 0, None)})
    shop, slept = FakeShopify([throttled, empty_page()]), []
    with shop.client() as client:
        shopify_graphql.ShopifyGraphQL(GRANTED, client, store(), slept.append).run("{x}", {})
    assert slept and slept[0] == pytest.approx(4.0, abs=0.05)


def test_waits_before_a_query_when_the_bucket_is_nearly_empty() -> None:
    shop, slept = FakeShopify([empty_page(available=20), empty_page()]), []
    with shop.client() as client:
        api = shopify_graphql.ShopifyGraphQL(GRANTED, client, store(), slept.append)
        api.run("{x}", {})
        assert slept == []  # the first query had no report to go by and needed none
        api.run("{x}", {})
    assert len(slept) == 1 and slept[0] == pytest.approx((100 - 20) / 50, abs=0.05)


def test_throttling_that_never_ends_is_rate_limited_not_permanent() -> None:
    answers = [{**THROTTLED, "extensions": cost(100, 0, None)}] * 20
    shop = FakeShopify(list(answers))
    with shop.client() as client, pytest.raises(RateLimited):
        shopify_graphql.ShopifyGraphQL(GRANTED, client, store(), lambda s: None).run("{x}", {})


def test_other_graphql_errors_are_permanent_with_the_message() -> None:
    bad = {
        "errors": [
            {
                "message": "Field 'nope' doesn't exist on type 'Order'",
                "extensions": {"code": "undefinedField"},
            }
        ]
    }
    shop = FakeShopify([bad])
    with shop.client() as client, pytest.raises(PermanentError, match="doesn't exist"):
        shopify_graphql.ShopifyGraphQL(GRANTED, client, store(), lambda s: None).run("{x}", {})


# --- GraphQL shape -> REST shape -> canonical order ----------------------------------------------


def through_graphql(rest: dict[str, Any]) -> dict[str, Any]:
    """What the simulator's GraphQL view of the REST order gives our converter."""
    answer, throttled = execute(
        {"query": shopify_graphql.ORDERS_QUERY, "variables": {"query": "", "after": None}},
        {int(rest["id"]): rest},
        {},
        Bucket(2000, 100),
        1000,
        60,
    )
    assert not throttled and "errors" not in answer, answer
    [node] = answer["data"]["orders"]["nodes"]
    assert node["id"] == f"gid://shopify/Order/{rest['id']}"
    return shopify_graphql.rest_order(node)


@pytest.mark.parametrize("sample", [shopify_nok_order, shopify_current_test_order])
def test_graphql_order_maps_to_the_same_canonical_order_as_rest(sample: Any) -> None:
    rest = sample()
    rest.setdefault("updated_at", "2026-11-04T10:14:58+01:00")
    converted = through_graphql(json.loads(json.dumps(rest)))
    assert converted["id"] == int(rest["id"])
    from_rest = shopify_order(rest, fallback_sku="FALLBACK")
    from_graphql = shopify_order(converted, fallback_sku="FALLBACK")
    assert from_graphql == from_rest


def test_conversion_keeps_numbers_money_and_statuses_in_rest_form() -> None:
    converted = through_graphql(shopify_nok_order())
    line = converted["line_items"][0]
    assert line["price"] == "1000.00" and line["discount_allocations"] == [{"amount": "100.00"}]
    assert line["tax_lines"][0]["rate"] == 0.25 and isinstance(line["id"], int)
    assert converted["financial_status"] == shopify_nok_order()["financial_status"]
    assert converted["customer"]["id"] == shopify_nok_order()["customer"]["id"]
    assert converted["shipping_lines"][0]["discounted_price"] == "99.00"


def test_orders_query_fits_shopifys_single_query_cost_limit() -> None:
    answer, _ = execute(
        {"query": shopify_graphql.ORDERS_QUERY, "variables": {"query": "", "after": None}},
        {},
        {},
        Bucket(2000, 100),
        1000,
        60,
    )
    assert answer["extensions"]["cost"]["requestedQueryCost"] <= 1000
    for query in (shopify_graphql.MORE_LINES_QUERY, shopify_graphql.REFUNDS_QUERY):
        answer, _ = execute(
            {"query": query, "variables": {"id": "gid://shopify/Order/1"}},
            {},
            {},
            Bucket(2000, 100),
            1000,
            60,
        )
        assert "errors" not in answer, answer


def test_number_of_refuses_ids_without_a_number() -> None:
    assert shopify_graphql.number_of("gid://shopify/Order/5900000000001") == 5900000000001
    assert shopify_graphql.number_of("42") == 42
    with pytest.raises(PermanentError):
        shopify_graphql.number_of("gid://shopify/Order/")
