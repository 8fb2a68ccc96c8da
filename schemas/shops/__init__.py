"""Shop payloads (Shopify, WooCommerce) mapped to the canonical order, and their status.

Pure functions, no I/O: `shopify_order` / `woocommerce_order` give a canonical `Order` or raise
`MappingError` naming the shop field; `shopify_status` / `woocommerce_status` give a `ShopStatus`.
"""

from __future__ import annotations

from schemas.shops.errors import MappingError
from schemas.shops.shopify import shopify_order, shopify_status
from schemas.shops.status import ShopStatus
from schemas.shops.woocommerce import woocommerce_order, woocommerce_status

__all__ = ["MappingError", "ShopStatus", "shopify_order", "shopify_status", "woocommerce_order",
           "woocommerce_status"]
