"""Faithful fake webshops (Shopify, WooCommerce) for tests, the demo and benchmarks.

Unlike the ERP simulators, shops push: each one keeps orders that its admin routes create and
change, answers its own Orders API for reconciliation polling, and sends signed webhooks the way
the real shop does, recording every attempt for tests to inspect (`GET /_sim/deliveries`).
State entities: `orders` and `webhooks` (WooCommerce also `refunds`). See `shopify` and
`woocommerce` for routes and options.
"""

from __future__ import annotations

from simulators.shops.shopify import ShopifySim, ShopifySimOptions
from simulators.shops.shopify import create_app as create_shopify
from simulators.shops.woocommerce import WooCommerceSim, WooCommerceSimOptions
from simulators.shops.woocommerce import create_app as create_woocommerce

__all__ = [
    "ShopifySim",
    "ShopifySimOptions",
    "WooCommerceSim",
    "WooCommerceSimOptions",
    "create_shopify",
    "create_woocommerce",
]
