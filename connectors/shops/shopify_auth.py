"""Shopify Admin API tokens: a static token for older apps, or short-lived client-credentials
tokens for Dev Dashboard apps (every new custom app since January 2026), shared via Redis.

A client-credentials token lives about a day (`expires_in`); it is fetched under a Redis lock so
that many workers make one token call, kept until a few minutes before it expires, and dropped
on a 401 (revoked, or the shop's clock and ours disagree): the caller then asks once more.
"""

from __future__ import annotations

import hashlib

import httpx

from connectors.base import TokenStore
from connectors.errors import PermanentError, check
from connectors.shops.settings import ShopSettings

RENEW_MARGIN_SECONDS = 300
TOKEN_PATH = "/admin/oauth/access_token"


class ShopifyTokens:
    """The token for one shop connection; `store` None means no sharing (fetch per instance)."""

    def __init__(self, shop: ShopSettings, client: httpx.Client, store: TokenStore | None) -> None:
        if not shop.api_url:
            raise PermanentError("shop.api_url is needed to call Shopify's Admin API")
        self.shop, self.client, self.store = shop, client, store
        self.granted = bool(shop.client_id and shop.client_secret)
        if not self.granted and shop.access_token is None:
            raise PermanentError(
                "Shopify needs shop.client_id and shop.client_secret (Dev "
                "Dashboard apps) or shop.access_token (older apps)"
            )
        fingerprint = hashlib.sha256(f"{shop.api_url}|{shop.client_id}".encode()).hexdigest()
        self.name = f"shopify:{fingerprint[:16]}"
        self._held: str | None = None

    def get(self) -> str:
        if not self.granted:
            assert self.shop.access_token is not None
            return self.shop.access_token.get_secret_value()
        if self._held:
            return self._held
        cached = self.store.token_get(self.name) if self.store else None
        self._held = cached or self.refresh(stale=None)
        return self._held

    def refresh(self, stale: str | None) -> str:
        """A new token, unless another worker already replaced `stale` with one."""
        if not self.granted:
            raise PermanentError(
                "Shopify refused the static access token (401): it was revoked or is wrong"
            )
        self._held = None
        if self.store is None:
            self._held = self._fetch()
            return self._held
        with self.store.locked("token", self.name, timeout=30, wait=30):
            current = self.store.token_get(self.name)
            if current and current != stale:
                self._held = current
                return current
            self._held = self._fetch()
            return self._held

    def _fetch(self) -> str:
        assert self.shop.api_url and self.shop.client_id and self.shop.client_secret
        response = self.client.post(
            f"{self.shop.api_url.rstrip('/')}{TOKEN_PATH}",
            data={
                "grant_type": "client_credentials",
                "client_id": self.shop.client_id,
                "client_secret": self.shop.client_secret.get_secret_value(),
            },
            headers={"Accept": "application/json"},
        )
        if 400 <= response.status_code < 500 and response.status_code != 429:
            raise PermanentError(
                "Shopify refused the app's client credentials "
                f"({response.status_code}): check client_id and client_secret",
                erp_status=response.status_code,
                erp_response=response.text,
            )
        body = check(response).json()
        token = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 3600)
        if self.store is not None:
            self.store.token_put(
                self.name,
                token,
                max(1.0, lifetime - RENEW_MARGIN_SECONDS)
                if lifetime > 2 * RENEW_MARGIN_SECONDS
                else lifetime / 2,
            )
        return token
