"""Shopify as a shop source (`connectors.shops.source.ShopSource`).

Webhooks are signed in `X-Shopify-Hmac-Sha256`. A delivery's identity is the shop's domain with
its webhook id (repeated on Shopify's retries) and its event id (shared by every subscription to
one event, e.g. two webhooks of one app for one topic). Refunds come by their own topic
(`refunds/create`, the refund as body); reconciliation reads an order's refunds by GraphQL when
its financial status says it was refunded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

import httpx

from connectors.base import TokenStore
from connectors.shops.created import CreatedOrders
from connectors.shops.settings import ShopSettings
from connectors.shops.shopify.created import created_orders, lister_for
from connectors.shops.shopify.graphql import order_refunds
from connectors.shops.shopify.mapping import shopify_order, shopify_status
from connectors.shops.shopify.refund import shopify_refund
from connectors.shops.shopify.rest import shopify_orders_since
from connectors.shops.source import Kind, Webhook, signed
from schemas.order import Order
from schemas.shops.status import ShopStatus

TOPICS: dict[str, Kind] = {
    "orders/create": "order",
    "orders/updated": "order",
    "orders/paid": "order",
    "orders/cancelled": "order",
    "refunds/create": "refund",
}
REFUNDED = frozenset({"partially_refunded", "refunded"})
WEBHOOK = Webhook(
    signature_header="X-Shopify-Hmac-Sha256",
    topics=TOPICS,
    headers={
        "X-Shopify-Hmac-Sha256": ("base64 HMAC-SHA256 of the body with the app's secret", True),
        "X-Shopify-Topic": (f"handled: {', '.join(sorted(TOPICS))}", True),
        "X-Shopify-Shop-Domain": ("the shop, part of the delivery's identity", False),
        "X-Shopify-Webhook-Id": ("repeats on Shopify's retries: answered 200 at once", False),
        "X-Shopify-Event-Id": ("shared by the subscriptions to one event", False),
    },
    content={"application/json": {"schema": {"type": "object"}}},
    description="The order or refund exactly as Shopify sends it, signed.",
)


class Shopify:
    webhook = WEBHOOK

    def ping(self, headers: Mapping[str, str], raw: bytes) -> bool:
        return False  # Shopify sends no unsigned hello

    def verified(self, headers: Mapping[str, str], raw: bytes, secrets: list[bytes]) -> bool:
        return signed(raw, headers.get("x-shopify-hmac-sha256"), secrets)

    def topic(self, headers: Mapping[str, str]) -> str:
        return headers.get("x-shopify-topic", "")

    def delivery_keys(self, headers: Mapping[str, str], topic: str, payload: Any) -> list[str]:
        domain = headers.get("x-shopify-shop-domain", "")
        return [
            f"shopify:{domain}:{kind}:{value}"
            for kind, value in (
                ("webhook", headers.get("x-shopify-webhook-id")),
                ("event", headers.get("x-shopify-event-id")),
            )
            if value
        ]

    def order(self, payload: dict[str, Any], *, fallback_sku: str | None) -> Order:
        return shopify_order(payload, fallback_sku=fallback_sku)

    def status(self, payload: dict[str, Any]) -> ShopStatus:
        return shopify_status(payload)

    def deleted_order_id(self, payload: Any) -> str:
        raise NotImplementedError("Shopify has no deletion topic")  # no topic of kind "deleted"

    def listed_refunds(self, payload: dict[str, Any]) -> list[str]:
        return []  # refunds come by `refunds/create`, with their lines

    def refunded_order_id(self, refund: dict[str, Any]) -> str:
        return str(refund.get("order_id", ""))

    def refund(
        self,
        refund: dict[str, Any],
        original: Order | None,
        order_payload: dict[str, Any] | None,
        *,
        fallback_sku: str | None,
    ) -> Order:
        return shopify_refund(refund, original, fallback_sku=fallback_sku)

    def orders_since(
        self, shop: ShopSettings, since: datetime, client: httpx.Client, store: TokenStore
    ) -> Iterator[dict[str, Any]]:
        return shopify_orders_since(shop, since, client, store)

    def orders_created(
        self,
        shop: ShopSettings,
        since: datetime,
        until: datetime,
        client: httpx.Client,
        store: TokenStore | None,
    ) -> CreatedOrders:
        return created_orders(shop, since, until, client, store)

    def created_oldest_first(self, shop: ShopSettings) -> bool:
        return lister_for(shop).oldest_first

    def refunds_of(
        self,
        shop: ShopSettings,
        payload: dict[str, Any],
        client: httpx.Client,
        store: TokenStore,
        wanted: Callable[[str], bool],
    ) -> list[dict[str, Any]]:
        if payload.get("financial_status") not in REFUNDED:
            return []
        refunds = order_refunds(shop, str(payload.get("id")), client, store)
        return [r for r in refunds if wanted(str(r.get("id")))]
