"""PowerOffice Go client-credentials tokens, fetched once and shared by every worker.

Go issues 20-minute tokens and no refresh token. The shared token (`connectors.tokens`) is
fetched under a lock so that twenty workers starting at once make one token call, renewed a
minute before it expires, and held in memory for at most 30 s.
"""

from __future__ import annotations

import time

import httpx

from connectors.base import TokenStore
from connectors.errors import check
from connectors.poweroffice.settings import PowerOfficeSettings
from connectors.tokens import Grant, SharedToken

RENEW_MARGIN_SECONDS = 60
LOCAL_SECONDS = 30


def poweroffice_tokens(
    settings: PowerOfficeSettings, client: httpx.Client, store: TokenStore
) -> SharedToken:
    def renew(_previous: Grant | None) -> Grant:
        response = check(
            client.post(
                settings.token_url,
                data={"grant_type": "client_credentials"},
                auth=httpx.BasicAuth(
                    settings.application_key.get_secret_value(),
                    settings.client_key.get_secret_value(),
                ),
                headers={"Ocp-Apim-Subscription-Key": settings.subscription_key.get_secret_value()},
            )
        )
        body = response.json()
        lifetime = float(body.get("expires_in") or 600)
        return Grant(str(body["access_token"]), time.time() + lifetime)

    return SharedToken(
        store,
        settings.token_name(),
        renew,
        seal_with=b"orderbridge-poweroffice:" + settings.client_key.get_secret_value().encode(),
        margin_seconds=RENEW_MARGIN_SECONDS,
        local_seconds=LOCAL_SECONDS,
    )
