"""Shop payloads (Shopify, WooCommerce) mapped to the canonical order, and their status.

Pure functions, no I/O: `shopify_order` / `woocommerce_order` give a canonical `Order` or raise
`MappingError` naming the shop field; `shopify_status` / `woocommerce_status` give a `ShopStatus`.
`shopify_refund` / `woocommerce_refund` turn a shop refund into a canonical credit order
(`credit_for` set, positive quantities); `woocommerce_refund_ids` lists an order body's refunds.
"""

from __future__ import annotations

from schemas.shops.errors import MappingError
from schemas.shops.shopify import shopify_order, shopify_status
from schemas.shops.shopify_refund import shopify_refund
from schemas.shops.status import ShopStatus
from schemas.shops.woocommerce import woocommerce_order, woocommerce_status
from schemas.shops.woocommerce_refund import woocommerce_refund, woocommerce_refund_ids

__all__ = [
    "MappingError",
    "ShopStatus",
    "shopify_order",
    "shopify_refund",
    "shopify_status",
    "woocommerce_order",
    "woocommerce_refund",
    "woocommerce_refund_ids",
    "woocommerce_status",
]
