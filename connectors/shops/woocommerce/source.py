"""WooCommerce as a shop source (`connectors.shops.source.ShopSource`).

Webhooks are signed in `X-WC-Webhook-Signature`, except the unsigned ping WooCommerce sends when
a webhook is made (`webhook_id=N`, form-encoded). Its delivery id is not an event id, so a
delivery's identity is the shop's URL, the order id, the topic and the order's modification time.
`order.deleted` carries only the order's id. An order body lists its refunds without their lines:
each new one is read from the refunds resource (by reconciliation, which the webhook asks for).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

import httpx

from connectors.base import TokenStore
from connectors.shops.created import CreatedOrders
from connectors.shops.settings import ShopSettings
from connectors.shops.source import Kind, Webhook, signed
from connectors.shops.woocommerce.created import WooCommerceCreated
from connectors.shops.woocommerce.mapping import woocommerce_order, woocommerce_status
from connectors.shops.woocommerce.refund import woocommerce_refund, woocommerce_refund_ids
from connectors.shops.woocommerce.rest import woocommerce_orders_since, woocommerce_refund_resource
from schemas.order import Order
from schemas.shops.status import ShopStatus

TOPICS: dict[str, Kind] = {
    "order.created": "order",
    "order.updated": "order",
    "order.restored": "order",
    "order.deleted": "deleted",
}
WEBHOOK = Webhook(
    signature_header="X-WC-Webhook-Signature",
    topics=TOPICS,
    headers={
        "X-WC-Webhook-Signature": ("base64 HMAC-SHA256 of the body (not on the ping)", False),
        "X-WC-Webhook-Topic": (f"handled: {', '.join(sorted(TOPICS))}", False),
        "X-WC-Webhook-Source": ("the shop's URL, part of the delivery's identity", False),
    },
    content={
        "application/json": {"schema": {"type": "object"}},
        "application/x-www-form-urlencoded": {
            "schema": {"type": "object", "properties": {"webhook_id": {"type": "string"}}}
        },
    },
    description="The order exactly as WooCommerce sends it, signed; or its unsigned creation "
    "ping (`webhook_id=N`, form-encoded).",
    identity_in_body=True,
)


class WooCommerce:
    webhook = WEBHOOK

    def ping(self, headers: Mapping[str, str], raw: bytes) -> bool:
        return headers.get("x-wc-webhook-signature") is None and raw.startswith(b"webhook_id=")

    def verified(self, headers: Mapping[str, str], raw: bytes, secrets: list[bytes]) -> bool:
        return signed(raw, headers.get("x-wc-webhook-signature"), secrets)

    def topic(self, headers: Mapping[str, str]) -> str:
        return headers.get("x-wc-webhook-topic", "")

    def delivery_keys(self, headers: Mapping[str, str], topic: str, payload: Any) -> list[str]:
        if TOPICS.get(topic) != "order":
            return []  # a deletion is looked at every time: it only cancels
        status = woocommerce_status(payload)
        source = headers.get("x-wc-webhook-source", "")
        return [f"woo:{source}:{status.order_id}:{topic}:{status.updated_at.isoformat()}"]

    def order(self, payload: dict[str, Any], *, fallback_sku: str | None) -> Order:
        return woocommerce_order(payload, fallback_sku=fallback_sku)

    def status(self, payload: dict[str, Any]) -> ShopStatus:
        return woocommerce_status(payload)

    def deleted_order_id(self, payload: Any) -> str:
        return str(payload.get("id", "")) if isinstance(payload, dict) else ""

    def listed_refunds(self, payload: dict[str, Any]) -> list[str]:
        return woocommerce_refund_ids(payload)

    def refunded_order_id(self, refund: dict[str, Any]) -> str:
        return ""  # refunds are read through their order, never delivered alone

    def refund(
        self,
        refund: dict[str, Any],
        original: Order | None,
        order_payload: dict[str, Any] | None,
        *,
        fallback_sku: str | None,
    ) -> Order:
        against = original if original is not None else (order_payload or {})
        return woocommerce_refund(refund, against, fallback_sku=fallback_sku)

    def orders_since(
        self, shop: ShopSettings, since: datetime, client: httpx.Client, store: TokenStore
    ) -> Iterator[dict[str, Any]]:
        return woocommerce_orders_since(shop, since, client, store)

    def orders_created(
        self,
        shop: ShopSettings,
        since: datetime,
        until: datetime,
        client: httpx.Client,
        store: TokenStore | None,
    ) -> CreatedOrders:
        return WooCommerceCreated(shop, since, until, client, store)

    def created_oldest_first(self, shop: ShopSettings) -> bool:
        return WooCommerceCreated.oldest_first

    def refunds_of(
        self,
        shop: ShopSettings,
        payload: dict[str, Any],
        client: httpx.Client,
        store: TokenStore,
        wanted: Callable[[str], bool],
    ) -> list[dict[str, Any]]:
        order_id = str(payload.get("id"))
        return [
            woocommerce_refund_resource(shop, order_id, refund_id, client)
            for refund_id in woocommerce_refund_ids(payload)
            if wanted(refund_id)
        ]
