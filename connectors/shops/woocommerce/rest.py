"""WooCommerce's REST API, read for reconciliation: orders modified since a time (numbered
pages, `modified_after`), and one refund with its lines.

Webhooks get lost (WooCommerce never retries), so each connection is polled for orders changed
since its cursor. Orders are read through a one-page function, which a backfill calls with its
own filters and cursor (`created`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx

from connectors.base import TokenStore
from connectors.errors import PermanentError, check
from connectors.http import digits
from connectors.shops.settings import ShopSettings

PAGES_MAX = 200


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
