"""A shop connection's settings: webhook secrets and the shop's API for reconciliation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ShopSettings(BaseModel):
    """Where a shop connection's orders come from: webhook secrets and the shop's REST API."""

    model_config = ConfigDict(extra="forbid")
    # Two secrets are accepted while a rotation is under way (Shopify may sign with the old one
    # for up to an hour).
    webhook_secret: SecretStr | None = None
    previous_webhook_secret: SecretStr | None = None
    api_url: str | None = None  # e.g. https://shop.myshopify.com or a WordPress site
    api_version: str = "2024-10"  # Shopify Admin API version
    access_token: SecretStr | None = None  # Shopify: static Admin API token (apps made before 2026)
    # Shopify Dev Dashboard apps: client-credentials grant for short-lived tokens (instead of
    # access_token; `client_secret_env` names an environment variable as for any secret).
    client_id: str | None = None
    client_secret: SecretStr | None = None
    api: Literal["graphql", "rest"] = "graphql"  # Shopify: "rest" is the legacy Orders API
    consumer_key: SecretStr | None = None  # WooCommerce REST API
    consumer_secret: SecretStr | None = None
    reconcile_seconds: float = Field(300.0, gt=0)
    reconcile_overlap_seconds: float = Field(120.0, ge=0)
    fallback_sku: str | None = None  # article for lines without a SKU; none: refuse them

    def secrets(self) -> list[bytes]:
        return [
            s.get_secret_value().encode()
            for s in (self.webhook_secret, self.previous_webhook_secret)
            if s
        ]
