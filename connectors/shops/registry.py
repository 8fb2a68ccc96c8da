"""The shop platforms by name: an explicit dict, no plugin discovery.

A new shop joins by adding its package under `connectors/shops/` (a `ShopSource`) and its line
here: the webhook route (`POST /webhooks/{source}/{name}`), a connection's `source`,
reconciliation, refunds and the shop contract suite (`tests/contract/test_shop_contract.py`,
which fails until the shop has its simulator there) all read this dict.
"""

from __future__ import annotations

from connectors.shops.shopify import Shopify
from connectors.shops.source import ShopSource
from connectors.shops.woocommerce import WooCommerce

SHOPS: dict[str, ShopSource] = {
    "shopify": Shopify(),
    "woocommerce": WooCommerce(),
}
