"""WooCommerce: webhooks, the order and refund mapping, and the REST API read for
reconciliation. `WooCommerce` is the registry's entry."""

from __future__ import annotations

from connectors.shops.woocommerce.source import WooCommerce

__all__ = ["WooCommerce"]
