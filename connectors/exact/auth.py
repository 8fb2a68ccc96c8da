"""Exact Online OAuth2 with rotating, single-use refresh tokens, shared by every worker.

Every refresh returns a new refresh token and kills the old one, so two workers refreshing at
once would lock the connection out ("Old refresh token used"). The refresh therefore happens under
a per-connection Redis lock, and every worker re-reads the stored pair after waiting for it. The
pair lives in Redis encrypted (Fernet, key derived from the client secret, which lives only in
the environment). Access tokens last 600 s; we refresh in the last 30 s or after a 401, never
earlier than Exact allows. A refresh token Exact refuses blocks the connection: its jobs wait
until an operator re-consents (`orderbridge connect NAME`), instead of dead-lettering one by one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
from cryptography.fernet import Fernet, InvalidToken

from connectors.base import TokenStore
from connectors.errors import ConnectionBlocked, TransientError, check, erp_message, response_body
from connectors.exact.settings import ExactSettings

PAIR_TTL_SECONDS = 30 * 86_400


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: float
    issued_at: float
    blocked: str | None = None


class ExactTokens:
    def __init__(self, settings: ExactSettings, client: httpx.Client, store: TokenStore) -> None:
        self.settings = settings
        self.client = client
        self.store = store
        self.name = settings.token_name()
        key = hashlib.sha256(
            b"orderbridge-exact:" + settings.client_secret.get_secret_value().encode()
        ).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    @property
    def token_url(self) -> str:
        return f"{self.settings.base_url.rstrip('/')}/api/oauth2/token"

    # --- the pair in Redis --------------------------------------------------------------------
    def load(self) -> TokenPair | None:
        raw = self.store.token_get(self.name)
        if not raw:
            return None
        try:
            return TokenPair(**json.loads(self._fernet.decrypt(raw.encode())))
        except (InvalidToken, ValueError, TypeError):
            return None  # written with another client secret: as good as none

    def save(self, pair: TokenPair) -> None:
        sealed = self._fernet.encrypt(json.dumps(asdict(pair)).encode()).decode()
        self.store.token_put(self.name, sealed, PAIR_TTL_SECONDS)

    # --- what the connector calls -------------------------------------------------------------
    def get(self) -> str:
        pair = self.load()
        if pair and pair.blocked:
            raise ConnectionBlocked(pair.blocked, retry_after=15)
        if pair and time.time() < pair.expires_at - self.settings.refresh_margin_seconds:
            return pair.access_token
        return self.refresh(stale=pair.access_token if pair else None)

    def refresh(self, stale: str | None) -> str:
        with self.store.locked("token", self.name, timeout=60, wait=60):
            pair = self.load()
            if pair and pair.blocked:
                raise ConnectionBlocked(pair.blocked, retry_after=15)
            if (
                pair
                and pair.access_token != stale
                and time.time() < pair.expires_at - self.settings.refresh_margin_seconds
            ):
                return pair.access_token  # another worker refreshed while we waited
            refresh_token = (
                pair.refresh_token
                if pair
                else (
                    self.settings.refresh_token.get_secret_value()
                    if self.settings.refresh_token
                    else None
                )
            )
            if not refresh_token:
                raise ConnectionBlocked(
                    self._consent_message("no refresh token yet"), retry_after=15
                )
            return self._redeem(
                {"grant_type": "refresh_token", "refresh_token": refresh_token}
            ).access_token

    def exchange_code(self, code: str) -> TokenPair:
        """First grant, after the user consented (`orderbridge connect`)."""
        with self.store.locked("token", self.name, timeout=60, wait=60):
            return self._redeem(
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.settings.redirect_uri,
                }
            )

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
    def _redeem(self, grant: dict[str, str]) -> TokenPair:
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
            self._block(response)
        if response.status_code == 401:  # "Access Token not expired": too early, wait
            raise TransientError("Exact refused an early token refresh", retry_after=30)
        body = check(response).json()
        now = time.time()
        pair = TokenPair(
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            expires_at=now + float(body.get("expires_in") or 600),
            issued_at=now,
        )
        self.save(pair)
        return pair

    def _block(self, response: httpx.Response) -> None:
        detail = erp_message(response_body(response)) or f"HTTP {response.status_code}"
        message = self._consent_message(f"Exact refused the token request ({detail})")
        pair = self.load() or TokenPair("", "", 0, 0)
        pair.blocked = message
        self.save(pair)
        raise ConnectionBlocked(
            message,
            erp_status=response.status_code,
            erp_response=response_body(response),
            retry_after=15,
        )

    def _consent_message(self, reason: str) -> str:
        return (
            f"{reason}: an operator must re-consent with "
            f"`orderbridge connect <connection>`; the connection's jobs wait until then"
        )
