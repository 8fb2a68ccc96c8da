"""Shop payloads → order events: the reading shared by webhooks and reconciliation, for every
shop in `connectors.shops.registry`."""

from __future__ import annotations

from typing import Any

from connectors.shops.registry import SHOPS
from schemas.order import Order
from schemas.shops.errors import MappingError
from tasks.events import OrderEvent


def event_from_shop(source: str, payload: Any, fallback_sku: str | None) -> OrderEvent:
    """Raises MappingError (naming the shop's field) for a payload we cannot use."""
    if not isinstance(payload, dict):
        raise MappingError("", "the order must be a JSON object")
    shop = SHOPS[source]
    status = shop.status(payload)
    try:
        order: Order | None = shop.order(payload, fallback_sku=fallback_sku)
    except MappingError:
        if not (status.cancelled or status.draft):
            raise
        order = None  # a cancellation or a draft needs no usable order body
    if order is not None and order.updated_at is None:
        order = order.model_copy(update={"updated_at": status.updated_at})
    return OrderEvent(
        status.order_id, order, status.updated_at, status.paid, status.cancelled, status.draft
    )
