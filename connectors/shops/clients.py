"""Shop clients for reconciliation: every order changed since a time, page by page.

Webhooks get lost (WooCommerce never retries; Shopify gives up after 8 tries), so each shop
connection is polled for orders changed since its cursor: Shopify's GraphQL Admin API
(`shopify_graphql`; the legacy REST Orders API with `updated_at_min` and `Link` paging only when
the connection says `api = "rest"`), WooCommerce's REST API with `modified_after` and numbered
pages. Every fetcher takes the token store, so Shopify's short-lived tokens are shared. Each
reads through a one-page function, which a backfill calls with its own filters and cursor
(`connectors.shops.created`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx

from connectors.base import TokenStore
from connectors.errors import PermanentError, check
from connectors.http import BearerAuth, digits
from connectors.shops import shopify_graphql
from connectors.shops.settings import ShopSettings
from connectors.shops.shopify_auth import shopify_tokens

PAGES_MAX = 200


def shopify_orders_since(
    shop: ShopSettings, since: datetime, client: httpx.Client, store: TokenStore | None = None
) -> Iterator[dict[str, Any]]:
    if shop.api == "rest":
        return shopify_rest_orders_since(shop, since, client, store)
    return shopify_graphql.orders_since(shop, since, client, store)


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


def woocommerce_orders_since(
    shop: ShopSettings, since: datetime, client: httpx.Client, store: TokenStore | None = None
) -> Iterator[dict[str, Any]]:
    params = {
        "modified_after": since.replace(tzinfo=None).isoformat(timespec="seconds"),
        "orderby": "modified",
    }
    for page in range(1, PAGES_MAX + 1):
        orders, pages = woocommerce_orders_page(shop, params, page, client)
        yield from orders
        if page >= pages:
            return


def woocommerce_orders_page(
    shop: ShopSettings, params: dict[str, str], page: int, client: httpx.Client
) -> tuple[list[dict[str, Any]], int]:
    """Page `page` (from 1) of `GET /wp-json/wc/v3/orders` filtered by `params` (GMT times,
    100 a page, oldest first by `orderby`): its orders and how many pages there are."""
    if not (shop.api_url and shop.consumer_key and shop.consumer_secret):
        raise PermanentError("shop.api_url, consumer_key and consumer_secret are needed")
    url = f"{shop.api_url.rstrip('/')}/wp-json/wc/v3/orders"
    auth = (shop.consumer_key.get_secret_value(), shop.consumer_secret.get_secret_value())
    query = {
        "dates_are_gmt": "true",
        "per_page": "100",
        "order": "asc",
        **params,
        "page": str(page),
    }
    response = check(client.get(url, auth=auth, params=query))
    return list(response.json()), int(response.headers.get("X-WP-TotalPages", "1") or 1)


def woocommerce_refund_resource(
    shop: ShopSettings, order_id: str, refund_id: str, client: httpx.Client
) -> dict[str, Any]:
    """One refund of an order, `GET /wp-json/wc/v3/orders/{order_id}/refunds/{refund_id}`: the
    order body lists refunds without their lines, and the credit note needs the lines.

    The ids come from an order body, so they are checked to be WooCommerce ids (digits) before
    they go into the path. A refund that is not the order's answers 404 or, as WooCommerce's
    code reads, 500 with `"data": 404`; both go to `check` like any unexpected answer."""
    if not (shop.api_url and shop.consumer_key and shop.consumer_secret):
        raise PermanentError("shop.api_url, consumer_key and consumer_secret are needed")
    url = (
        f"{shop.api_url.rstrip('/')}/wp-json/wc/v3/orders/{digits(order_id)}/refunds/"
        f"{digits(refund_id)}"
    )
    auth = (shop.consumer_key.get_secret_value(), shop.consumer_secret.get_secret_value())
    body = check(client.get(url, auth=auth)).json()
    if not isinstance(body, dict):
        raise PermanentError(
            f"WooCommerce answered refund {refund_id} of order {order_id} "
            f"with {type(body).__name__}, not an object"
        )
    return body
