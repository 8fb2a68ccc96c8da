"""Shopify's orders created in a period, page by page, for a backfill (`connectors.shops.created`):
GraphQL `orders(query: "created_at:>='…' created_at:<'…'", sortKey: CREATED_AT)`, oldest first,
or with `api = "rest"` the REST API's `created_at_min`/`created_at_max`, newest first."""

from __future__ import annotations

from datetime import datetime

import httpx

from connectors.base import TokenStore
from connectors.http import BearerAuth
from connectors.shops.created import ONE_SECOND, CreatedOrders, Page
from connectors.shops.settings import ShopSettings
from connectors.shops.shopify import graphql as shopify_graphql
from connectors.shops.shopify.rest import shopify_rest_auth, shopify_rest_orders_page


def created_orders(
    shop: ShopSettings,
    since: datetime,
    until: datetime,
    client: httpx.Client,
    store: TokenStore | None = None,
) -> CreatedOrders:
    return lister_for(shop)(shop, since, until, client, store)


def lister_for(shop: ShopSettings) -> type[ShopifyGraphQLCreated | ShopifyRestCreated]:
    """The lister a connection reads with: GraphQL, or the legacy REST API (`api = "rest"`)."""
    return ShopifyRestCreated if shop.api == "rest" else ShopifyGraphQLCreated


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
