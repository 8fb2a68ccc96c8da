"""Shopify's orders changed since a time, page by page, for reconciliation.

Webhooks get lost (Shopify gives up after 8 tries), so each connection is polled for orders
changed since its cursor: through the GraphQL Admin API (`graphql`), or the legacy REST Orders
API with `updated_at_min` and `Link` paging only when the connection says `api = "rest"`. Every
fetcher takes the token store, so Shopify's short-lived tokens are shared. Each reads through a
one-page function, which a backfill calls with its own filters and cursor (`created`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx

from connectors.base import TokenStore
from connectors.errors import check
from connectors.http import BearerAuth
from connectors.shops.settings import ShopSettings
from connectors.shops.shopify import graphql
from connectors.shops.shopify.auth import shopify_tokens

PAGES_MAX = 200


def shopify_orders_since(
    shop: ShopSettings, since: datetime, client: httpx.Client, store: TokenStore | None = None
) -> Iterator[dict[str, Any]]:
    if shop.api == "rest":
        return shopify_rest_orders_since(shop, since, client, store)
    return graphql.orders_since(shop, since, client, store)


def shopify_rest_orders_since(
    shop: ShopSettings, since: datetime, client: httpx.Client, store: TokenStore | None = None
) -> Iterator[dict[str, Any]]:
    """The legacy REST Orders API, for connections that ask for it (`api = "rest"`)."""
    auth = shopify_rest_auth(shop, client, store)
    params = {"status": "any", "limit": "250", "updated_at_min": since.isoformat()}
    for _ in range(PAGES_MAX):
        orders, page_info = shopify_rest_orders_page(shop, params, client, auth)
        yield from orders
        if page_info is None:
            return
        params = {"limit": "250", "page_info": page_info}  # the cursor carries the filters


def shopify_rest_auth(
    shop: ShopSettings, client: httpx.Client, store: TokenStore | None = None
) -> BearerAuth:
    return BearerAuth(
        shopify_tokens(shop, client, store), header="X-Shopify-Access-Token", prefix=""
    )


def shopify_rest_orders_page(
    shop: ShopSettings, params: dict[str, str], client: httpx.Client, auth: BearerAuth
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of `GET orders.json`: its orders, and the `page_info` cursor of the next page
    from the `Link` header (None: this was the last). A cursor is asked for with only `limit`
    (and `fields`) beside it, as Shopify requires: it carries the first page's filters."""
    assert shop.api_url
    url = f"{shop.api_url.rstrip('/')}/admin/api/{shop.api_version}/orders.json"
    response = check(client.get(url, params=params, auth=auth))
    following = response.links.get("next", {}).get("url")
    page_info = httpx.URL(following).params.get("page_info") if following else None
    return list(response.json().get("orders", [])), page_info
