"""Sapera login, shared by every worker: one access token per connection, kept in Redis,
refreshed before it expires and after a 401, under a per-connection lock.

Logging in per call is what Sapera's docs ask us not to do. The token pair lives in Redis
encrypted (Fernet, key derived from the password, which lives only in the environment). A login
answered with `resultCode` 2-6 (wrong credentials, user disabled, IP blocked, one-time password
needed or wrong) blocks the connection like a refused Exact consent: its jobs wait, nobody logs
in again with the same password (which could lock the user out), until the password in the
configuration changes or a quarter of an hour has passed. Code 7 ("wait before the next
attempt") is a plain wait.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import httpx
from cryptography.fernet import Fernet, InvalidToken

from connectors.base import TokenStore
from connectors.errors import ConnectionBlocked, PermanentError, TransientError
from connectors.sapera.envelope import value_of
from connectors.sapera.settings import SaperaSettings

PAIR_TTL_SECONDS = 30 * 86_400
# A refused login is tried again after this long (or at once with a new password): often enough
# to notice a fix made in Sapera, rarely enough never to lock the user out.
BLOCK_SECONDS = 15 * 60
LOGIN_RESULTS = {
    2: "invalid credentials",
    3: "user disabled",
    4: "IP blocked",
    5: "one-time password required",
    6: "invalid one-time password",
    7: "wait before the next attempt",
}


@dataclass
class SaperaTokens:
    token: str
    expires_at: float
    refresh_token: str | None = None
    refresh_token_id: str | None = None
    refresh_expires_at: float = 0.0
    blocked: str | None = None


class SaperaLogin:
    """`get()` and `refresh(stale)` for `connectors.http.BearerAuth`."""

    def __init__(self, settings: SaperaSettings, client: httpx.Client, store: TokenStore) -> None:
        self.settings = settings
        self.client = client
        self.store = store
        secret = settings.password.get_secret_value().encode()
        # The name carries the password's fingerprint: a new password means a fresh start.
        self.name = f"{settings.token_name()}:{hashlib.sha256(secret).hexdigest()[:8]}"
        key = hashlib.sha256(b"orderbridge-sapera:" + secret).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def load(self) -> SaperaTokens | None:
        raw = self.store.token_get(self.name)
        if not raw:
            return None
        try:
            return SaperaTokens(**json.loads(self._fernet.decrypt(raw.encode())))
        except (InvalidToken, ValueError, TypeError):
            return None

    def save(self, tokens: SaperaTokens, keep_seconds: float = PAIR_TTL_SECONDS) -> None:
        sealed = self._fernet.encrypt(json.dumps(asdict(tokens)).encode()).decode()
        self.store.token_put(self.name, sealed, keep_seconds)

    def get(self) -> str:
        tokens = self.load()
        if tokens and tokens.blocked:
            raise ConnectionBlocked(tokens.blocked, retry_after=30)
        if tokens and time.time() < tokens.expires_at - self.settings.refresh_margin_seconds:
            return tokens.token
        return self.refresh(stale=tokens.token if tokens else None)

    def refresh(self, stale: str | None) -> str:
        with self.store.locked("token", self.name, timeout=60, wait=60):
            tokens = self.load()
            if tokens and tokens.blocked:
                raise ConnectionBlocked(tokens.blocked, retry_after=30)
            if (
                tokens
                and tokens.token != stale
                and time.time() < tokens.expires_at - self.settings.refresh_margin_seconds
            ):
                return tokens.token  # another worker refreshed while we waited
            fresh = self._with_refresh_token(tokens) if tokens else None
            return (fresh or self._login()).token

    def _with_refresh_token(self, tokens: SaperaTokens) -> SaperaTokens | None:
        if not tokens.refresh_token or time.time() >= tokens.refresh_expires_at:
            return None
        body = {
            "tenantDomainName": self.settings.tenant,
            "refreshToken": tokens.refresh_token,
            "tokenId": tokens.refresh_token_id,
        }
        value = value_of(
            self.client.post(self.settings.url(self.settings.paths.refresh), json=body),
            command=False,
        )
        if not isinstance(value, dict) or value.get("resultCode") != 1:
            return None  # the refresh token is spent or refused: log in again
        return self._keep(value)

    def _login(self) -> SaperaTokens:
        body = {
            "tenantDomainName": self.settings.tenant,
            "userNameOrEMail": self.settings.user,
            "password": self.settings.password.get_secret_value(),
        }
        value = value_of(
            self.client.post(self.settings.url(self.settings.paths.login), json=body), command=False
        )
        if not isinstance(value, dict):
            raise PermanentError("Sapera's login answered without a value")
        code = value.get("resultCode")
        if code == 7:
            raise TransientError("Sapera asks us to wait before the next login", retry_after=60)
        if code != 1:
            reason = (
                LOGIN_RESULTS.get(code, f"result code {code}")
                if isinstance(code, int)
                else f"result code {code}"
            )
            message = (
                f"Sapera refused the login of {self.settings.user} to tenant "
                f"{self.settings.tenant}: {reason} (resultCode {code}); fix the "
                f"connection's user or password, the connection's jobs wait until then"
            )
            self.save(SaperaTokens(token="", expires_at=0, blocked=message), BLOCK_SECONDS)
            raise ConnectionBlocked(message, retry_after=30)
        return self._keep(value)

    def _keep(self, value: dict[str, Any]) -> SaperaTokens:
        refresh = value.get("refreshTokenInfo") or {}
        tokens = SaperaTokens(
            token=str(value["token"]),
            expires_at=_epoch(value.get("expiresIn"), 3600),
            refresh_token=refresh.get("token"),
            refresh_token_id=_str(refresh.get("tokenId")),
            refresh_expires_at=_epoch(refresh.get("expiresIn"), 86_400),
        )
        self.save(tokens)
        return tokens


def _epoch(value: Any, default_seconds: float) -> float:
    """`expiresIn` is an ISO time with offset; a number is taken as seconds from now."""
    if isinstance(value, (int, float)):
        return time.time() + float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return time.time() + default_seconds


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
