"""Shopify Admin API tokens: a static token for older apps, or short-lived client-credentials
tokens for Dev Dashboard apps (every new custom app since January 2026), shared via Redis.

A client-credentials token lives about a day (`expires_in`); it is fetched under a lock so that
many workers make one token call (`connectors.tokens`), kept until a few minutes before it
expires, and dropped on a 401 (revoked, or the shop's clock and ours disagree): the caller then
asks once more.
"""

from __future__ import annotations

import hashlib
import time

import httpx

from connectors.base import TokenStore
from connectors.errors import PermanentError, check
from connectors.shops.settings import ShopSettings
from connectors.tokens import Grant, ProcessTokens, SharedToken

RENEW_MARGIN_SECONDS = 300
TOKEN_PATH = "/admin/oauth/access_token"


class StaticToken:
    """An older app's access token: nothing to fetch, and a 401 means it is wrong for good."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get(self) -> str:
        return self.token

    def refresh(self, stale: str | None) -> str:
        raise PermanentError(
            "Shopify refused the static access token (401): it was revoked or is wrong"
        )


def shopify_tokens(
    shop: ShopSettings, client: httpx.Client, store: TokenStore | None
) -> SharedToken | StaticToken:
    """The token source of one shop connection; `store` None: held by this process only."""
    if not shop.api_url:
        raise PermanentError("shop.api_url is needed to call Shopify's Admin API")
    if not (shop.client_id and shop.client_secret):
        if shop.access_token is None:
            raise PermanentError(
                "Shopify needs shop.client_id and shop.client_secret (Dev "
                "Dashboard apps) or shop.access_token (older apps)"
            )
        return StaticToken(shop.access_token.get_secret_value())
    url = f"{shop.api_url.rstrip('/')}{TOKEN_PATH}"
    client_id, secret = shop.client_id, shop.client_secret.get_secret_value()

    def renew(_previous: Grant | None) -> Grant:
        response = client.post(
            url,
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
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
        lifetime = float(body.get("expires_in") or 3600)
        return Grant(str(body["access_token"]), time.time() + lifetime)

    fingerprint = hashlib.sha256(f"{shop.api_url}|{client_id}".encode()).hexdigest()
    return SharedToken(
        store or ProcessTokens(),
        f"shopify:{fingerprint[:16]}",
        renew,
        seal_with=b"orderbridge-shopify:" + secret.encode(),
        margin_seconds=RENEW_MARGIN_SECONDS,
        local_seconds=RENEW_MARGIN_SECONDS,
    )
