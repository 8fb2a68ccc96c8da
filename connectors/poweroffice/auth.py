"""PowerOffice Go client-credentials tokens, fetched once and shared by every worker via Redis.

Go issues 20-minute tokens and no refresh token. A token is fetched under a Redis lock so that
twenty workers starting at once make one token call, and renewed a minute before it expires.
"""

from __future__ import annotations

import time

import httpx

from connectors.base import TokenStore
from connectors.errors import check
from connectors.poweroffice.settings import PowerOfficeSettings

RENEW_MARGIN_SECONDS = 60
LOCAL_SECONDS = 30


class PowerOfficeTokens:
    def __init__(
        self, settings: PowerOfficeSettings, client: httpx.Client, store: TokenStore
    ) -> None:
        self.settings = settings
        self.client = client
        self.store = store
        self.name = settings.token_name()
        self._local: tuple[str, float] = ("", 0.0)

    def get(self) -> str:
        # A copy in memory spares a Redis round trip per ERP request; it is dropped well
        # before Redis would drop the shared one, and on any 401.
        token, until = self._local
        if token and time.monotonic() < until:
            return token
        token = self.store.token_get(self.name) or self.refresh(stale=None)
        self._local = (token, time.monotonic() + LOCAL_SECONDS)
        return token

    def refresh(self, stale: str | None) -> str:
        self._local = ("", 0.0)
        with self.store.locked("token", self.name, timeout=30, wait=30):
            current = self.store.token_get(self.name)
            if current and current != stale:
                return current  # another worker renewed it while we waited
            return self._fetch()

    def _fetch(self) -> str:
        s = self.settings
        response = check(
            self.client.post(
                s.token_url,
                data={"grant_type": "client_credentials"},
                auth=httpx.BasicAuth(
                    s.application_key.get_secret_value(), s.client_key.get_secret_value()
                ),
                headers={"Ocp-Apim-Subscription-Key": s.subscription_key.get_secret_value()},
            )
        )
        body = response.json()
        token = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 600)
        self.store.token_put(self.name, token, max(5.0, lifetime - RENEW_MARGIN_SECONDS))
        return token
