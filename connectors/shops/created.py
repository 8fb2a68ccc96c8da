"""Orders a shop created in a period, page by page, each page with the cursor of the next: what
a backfill reads (`tasks.backfill`), so it can stop after any page and continue from its cursor.

The same three APIs as reconciliation, through the same page fetchers (and so the same rate
limits and tokens), asked by creation time instead of change time:
- Shopify GraphQL: `orders(query: "created_at:>='…' created_at:<'…'", sortKey: CREATED_AT)`,
  oldest first; the cursor is the page's `endCursor`. Without the `read_all_orders` scope
  Shopify answers only the last 60 days of orders.
- Shopify REST (`api = "rest"`): `created_at_min`/`created_at_max`, `status=any`, newest first
  (the REST API's order); the cursor is the `page_info` of the `Link` header's next page.
- WooCommerce: `after`/`before` (exclusive, GMT) with `orderby=date&order=asc`, numbered pages;
  the cursor is the next page's number. Oldest first, so orders placed while the backfill runs
  land after the period or on its last page, and the numbers of the pages before stay put.

The period is `[since, until)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from connectors.base import TokenStore
from connectors.errors import PermanentError
from connectors.http import BearerAuth
from connectors.shops.settings import ShopSettings
from connectors.shops.shopify import graphql as shopify_graphql
from connectors.shops.shopify.rest import shopify_rest_auth, shopify_rest_orders_page
from connectors.shops.woocommerce.rest import woocommerce_orders_page

ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Page:
    """One page of orders (the shop's payloads, REST-shaped) and the cursor of the next page
    (None: this was the last)."""

    orders: list[dict[str, Any]]
    next: str | None


class CreatedOrders(Protocol):
    """A shop's orders created in a period. `oldest_first`: the order pages come in (progress
    through the period is told by the creation time of the last order seen)."""

    oldest_first: bool

    def page(self, cursor: str | None) -> Page:
        """The page at `cursor` (None: the first page)."""
        ...


class ShopifyGraphQLCreated:
    oldest_first = True

    def __init__(
        self,
        shop: ShopSettings,
        since: datetime,
        until: datetime,
        client: httpx.Client,
        store: TokenStore | None,
    ) -> None:
        self.api = shopify_graphql.ShopifyGraphQL(shop, client, store)
        self.search = (
            f"created_at:>='{shopify_graphql.search_time(since)}' "
            f"created_at:<'{shopify_graphql.search_time(until)}'"
        )

    def page(self, cursor: str | None) -> Page:
        orders, following = shopify_graphql.orders_page(self.api, self.search, "CREATED_AT", cursor)
        return Page(orders, following)


class ShopifyRestCreated:
    oldest_first = False

    def __init__(
        self,
        shop: ShopSettings,
        since: datetime,
        until: datetime,
        client: httpx.Client,
        store: TokenStore | None,
    ) -> None:
        self.shop, self.client = shop, client
        self.auth: BearerAuth = shopify_rest_auth(shop, client, store)
        self.first = {
            "status": "any",
            "limit": "250",
            "created_at_min": since.isoformat(),
            # REST's max is inclusive, and its times whole seconds
            "created_at_max": (until - ONE_SECOND).isoformat(),
        }

    def page(self, cursor: str | None) -> Page:
        params = self.first if cursor is None else {"limit": "250", "page_info": cursor}
        orders, following = shopify_rest_orders_page(self.shop, params, self.client, self.auth)
        return Page(orders, following)


class WooCommerceCreated:
    oldest_first = True

    def __init__(
        self,
        shop: ShopSettings,
        since: datetime,
        until: datetime,
        client: httpx.Client,
        store: TokenStore | None,
    ) -> None:
        self.shop, self.client = shop, client
        self.params = {
            # `after` is exclusive: one second earlier takes in an order placed at `since`
            "after": _gmt(since - ONE_SECOND),
            "before": _gmt(until),
            "orderby": "date",
        }

    def page(self, cursor: str | None) -> Page:
        number = int(cursor) if cursor and cursor.isdigit() else 1
        orders, pages = woocommerce_orders_page(self.shop, self.params, number, self.client)
        return Page(orders, str(number + 1) if number < pages else None)


def _gmt(moment: datetime) -> str:
    """WooCommerce's filter time (with `dates_are_gmt`): GMT, no offset, whole seconds."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def created_orders(
    source: str,
    shop: ShopSettings,
    since: datetime,
    until: datetime,
    client: httpx.Client,
    store: TokenStore | None = None,
) -> CreatedOrders:
    """The lister for a connection's shop; PermanentError when it has no API to ask."""
    if not shop.api_url:
        raise PermanentError("the connection has no shop API to read orders from (shop.api_url)")
    if source == "shopify":
        kind = ShopifyRestCreated if shop.api == "rest" else ShopifyGraphQLCreated
        return kind(shop, since, until, client, store)
    if source == "woocommerce":
        return WooCommerceCreated(shop, since, until, client, store)
    raise PermanentError(f"orders cannot be read from a {source!r} source")
