"""Exact Online OAuth2 with rotating, single-use refresh tokens, shared by every worker.

Every refresh returns a new refresh token and kills the old one, so two workers refreshing at
once would lock the connection out ("Old refresh token used"). The refresh therefore happens under
a per-connection Redis lock, and every worker re-reads the stored pair after waiting for it. The
pair lives in Redis encrypted (Fernet, key derived from the client secret, which lives only in
the environment; `connectors.tokens`). Access tokens last 600 s; we refresh in the last 30 s or
after a 401, never earlier than Exact allows. A refresh token Exact refuses blocks the
connection: its jobs wait until an operator re-consents (`orderbridge connect NAME`), instead of
dead-lettering one by one.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlparse

import httpx

from connectors.base import TokenStore
from connectors.errors import ConnectionBlocked, TransientError, check, erp_message, response_body
from connectors.exact.settings import ExactSettings
from connectors.tokens import Grant, SharedToken

PAIR_TTL_SECONDS = 30 * 86_400


class ExactTokens:
    """The connection's token pair (`connectors.tokens.SharedToken`, renewed with the refresh
    token) plus the consent flow's first grant."""

    def __init__(self, settings: ExactSettings, client: httpx.Client, store: TokenStore) -> None:
        self.settings = settings
        self.client = client
        self.shared = SharedToken(
            store,
            settings.token_name(),
            self._renew,
            # the label Exact's pairs were sealed with before `connectors.tokens`: they still open
            seal_with=b"orderbridge-exact:" + settings.client_secret.get_secret_value().encode(),
            margin_seconds=settings.refresh_margin_seconds,
            keep_seconds=PAIR_TTL_SECONDS,
            lock_seconds=60,
        )

    @property
    def token_url(self) -> str:
        return f"{self.settings.base_url.rstrip('/')}/api/oauth2/token"

    # --- what the connector calls -------------------------------------------------------------
    def get(self) -> str:
        return self.shared.get()

    def refresh(self, stale: str | None) -> str:
        return self.shared.refresh(stale)

    def exchange_code(self, code: str) -> Grant:
        """First grant, after the user consented (`orderbridge connect`)."""
        with self.shared.store.locked("token", self.shared.name, timeout=60, wait=60):
            grant = self._redeem(
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.settings.redirect_uri,
                }
            )
            self.shared.save(grant)
            return grant

    def authorize_url(self, state: str = "orderbridge") -> str:
        query = urlencode(
            {
                "client_id": self.settings.client_id,
                "response_type": "code",
                "redirect_uri": self.settings.redirect_uri,
                "state": state,
            }
        )
        return f"{self.settings.base_url.rstrip('/')}/api/oauth2/auth?{query}"

    @staticmethod
    def code_from_redirect(location: str) -> str | None:
        codes = parse_qs(urlparse(location).query).get("code")
        return codes[0] if codes else None

    # --- talking to the token endpoint --------------------------------------------------------
    def _renew(self, previous: Grant | None) -> Grant:
        refresh_token = (
            previous.extra.get("refresh_token")
            if previous
            else (
                self.settings.refresh_token.get_secret_value()
                if self.settings.refresh_token
                else None
            )
        )
        if not refresh_token:
            raise ConnectionBlocked(self._consent_message("no refresh token yet"), retry_after=15)
        return self._redeem({"grant_type": "refresh_token", "refresh_token": str(refresh_token)})

    def _redeem(self, grant: dict[str, str]) -> Grant:
        form = {
            **grant,
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret.get_secret_value(),
        }
        response = self.client.post(
            self.token_url, data=form, headers={"Accept": "application/json"}
        )
        if response.status_code == 400 or (
            response.status_code == 401 and "not expired" not in response.text.lower()
        ):
            detail = erp_message(response_body(response)) or f"HTTP {response.status_code}"
            self.shared.block(
                self._consent_message(f"Exact refused the token request ({detail})"),
                erp_status=response.status_code,
                erp_response=response_body(response),
            )
        if response.status_code == 401:  # "Access Token not expired": too early, wait
            raise TransientError("Exact refused an early token refresh", retry_after=30)
        body = check(response).json()
        now = time.time()
        return Grant(
            access_token=body["access_token"],
            expires_at=now + float(body.get("expires_in") or 600),
            extra={"refresh_token": body["refresh_token"]},
            issued_at=now,
        )

    def _consent_message(self, reason: str) -> str:
        return (
            f"{reason}: an operator must re-consent with "
            f"`orderbridge connect <connection>`; the connection's jobs wait until then"
        )
