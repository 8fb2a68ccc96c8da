"""Shopify: webhooks, the REST-shaped order and refund mapping, and the Admin API (GraphQL, or
the legacy REST Orders API) read for reconciliation. `Shopify` is the registry's entry."""

from __future__ import annotations

from connectors.shops.shopify.source import Shopify

__all__ = ["Shopify"]
