"""Shop payloads → order events: the reading shared by webhooks and reconciliation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.order import Order
from schemas.shops.errors import MappingError
from schemas.shops.shopify import shopify_order, shopify_status
from schemas.shops.status import ShopStatus
from schemas.shops.woocommerce import woocommerce_order, woocommerce_status
from tasks.events import OrderEvent

READERS: dict[str, tuple[Callable[..., Order], Callable[[dict[str, Any]], ShopStatus]]] = {
    "shopify": (shopify_order, shopify_status),
    "woocommerce": (woocommerce_order, woocommerce_status),
}


def event_from_shop(source: str, payload: Any, fallback_sku: str | None) -> OrderEvent:
    """Raises MappingError (naming the shop's field) for a payload we cannot use."""
    if not isinstance(payload, dict):
        raise MappingError("", "the order must be a JSON object")
    read_order, read_status = READERS[source]
    status = read_status(payload)
    try:
        order: Order | None = read_order(payload, fallback_sku=fallback_sku)
    except MappingError:
        if not (status.cancelled or status.draft):
            raise
        order = None  # a cancellation or a draft needs no usable order body
    if order is not None and order.updated_at is None:
        order = order.model_copy(update={"updated_at": status.updated_at})
    return OrderEvent(
        status.order_id, order, status.updated_at, status.paid, status.cancelled, status.draft
    )
