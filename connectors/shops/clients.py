"""Shop clients for reconciliation: every order changed since a time, page by page.

Webhooks get lost (WooCommerce never retries; Shopify gives up after 8 tries), so each shop
connection is polled for orders changed since its cursor: Shopify's GraphQL Admin API
(`shopify_graphql`; the legacy REST Orders API with `updated_at_min` and `Link` paging only when
the connection says `api = "rest"`), WooCommerce's REST API with `modified_after` and numbered
pages. Every fetcher takes the token store, so Shopify's short-lived tokens are shared.
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
    auth = BearerAuth(
        shopify_tokens(shop, client, store), header="X-Shopify-Access-Token", prefix=""
    )
    assert shop.api_url
    url: str | None = f"{shop.api_url.rstrip('/')}/admin/api/{shop.api_version}/orders.json"
    params: dict[str, str] | None = {
        "status": "any",
        "limit": "250",
        "updated_at_min": since.isoformat(),
    }
    for _ in range(PAGES_MAX):
        if url is None:
            return
        response = check(client.get(url, params=params, auth=auth))
        yield from response.json().get("orders", [])
        url = response.links.get("next", {}).get("url")
        params = None  # the next link carries its own query


def woocommerce_orders_since(
    shop: ShopSettings, since: datetime, client: httpx.Client, store: TokenStore | None = None
) -> Iterator[dict[str, Any]]:
    if not (shop.api_url and shop.consumer_key and shop.consumer_secret):
        raise PermanentError("shop.api_url, consumer_key and consumer_secret are needed")
    url = f"{shop.api_url.rstrip('/')}/wp-json/wc/v3/orders"
    auth = (shop.consumer_key.get_secret_value(), shop.consumer_secret.get_secret_value())
    for page in range(1, PAGES_MAX + 1):
        response = check(
            client.get(
                url,
                auth=auth,
                params={
                    "modified_after": since.replace(tzinfo=None).isoformat(timespec="seconds"),
                    "dates_are_gmt": "true",
                    "per_page": "100",
                    "page": str(page),
                    "orderby": "modified",
                    "order": "asc",
                },
            )
        )
        yield from response.json()
        if page >= int(response.headers.get("X-WP-TotalPages", "1") or 1):
            return


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
