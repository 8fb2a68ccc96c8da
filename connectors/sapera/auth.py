"""Sapera login, shared by every worker: one access token per connection, kept in Redis,
refreshed before it expires and after a 401, under a per-connection lock (`connectors.tokens`).

Logging in per call is what Sapera's docs ask us not to do. The token pair lives in Redis
encrypted (Fernet, key derived from the password, which lives only in the environment). A login
answered with `resultCode` 2-6 (wrong credentials, user disabled, IP blocked, one-time password
needed or wrong) blocks the connection like a refused Exact consent: its jobs wait, nobody logs
in again with the same password (which could lock the user out), until the password in the
configuration changes or a quarter of an hour has passed. Code 7 ("wait before the next
attempt") is a plain wait.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Any

import httpx

from connectors.base import TokenStore
from connectors.errors import PermanentError, TransientError
from connectors.sapera.envelope import value_of
from connectors.sapera.settings import SaperaSettings
from connectors.tokens import Grant, SharedToken
from connectors.values import text_or_none

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


class SaperaLogin:
    """`get()` and `refresh(stale)` for `connectors.http.BearerAuth`: the shared token
    (`connectors.tokens`), renewed with the refresh token while it lasts, else by logging in."""

    def __init__(self, settings: SaperaSettings, client: httpx.Client, store: TokenStore) -> None:
        self.settings = settings
        self.client = client
        secret = settings.password.get_secret_value().encode()
        self.shared = SharedToken(
            store,
            # The name carries the password's fingerprint: a new password means a fresh start.
            f"{settings.token_name()}:{hashlib.sha256(secret).hexdigest()[:8]}",
            self._renew,
            seal_with=b"orderbridge-sapera:" + secret,
            margin_seconds=settings.refresh_margin_seconds,
            keep_seconds=PAIR_TTL_SECONDS,
            lock_seconds=60,
            blocked_retry=30,
        )

    def get(self) -> str:
        return self.shared.get()

    def refresh(self, stale: str | None) -> str:
        return self.shared.refresh(stale)

    def _renew(self, previous: Grant | None) -> Grant:
        fresh = self._with_refresh_token(previous) if previous else None
        return fresh or self._login()

    def _with_refresh_token(self, previous: Grant) -> Grant | None:
        refresh_token = previous.extra.get("refresh_token")
        if not refresh_token or time.time() >= float(previous.extra.get("refresh_expires_at", 0)):
            return None
        body = {
            "tenantDomainName": self.settings.tenant,
            "refreshToken": refresh_token,
            "tokenId": previous.extra.get("refresh_token_id"),
        }
        value = value_of(
            self.client.post(self.settings.url(self.settings.paths.refresh), json=body),
            command=False,
        )
        if not isinstance(value, dict) or value.get("resultCode") != 1:
            return None  # the refresh token is spent or refused: log in again
        return _grant(value)

    def _login(self) -> Grant:
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
            self.shared.block(
                f"Sapera refused the login of {self.settings.user} to tenant "
                f"{self.settings.tenant}: {reason} (resultCode {code}); fix the "
                f"connection's user or password, the connection's jobs wait until then",
                BLOCK_SECONDS,
            )
        return _grant(value)


def _grant(value: dict[str, Any]) -> Grant:
    refresh = value.get("refreshTokenInfo") or {}
    return Grant(
        access_token=str(value["token"]),
        expires_at=_epoch(value.get("expiresIn"), 3600),
        extra={
            "refresh_token": refresh.get("token"),
            "refresh_token_id": text_or_none(refresh.get("tokenId")),
            "refresh_expires_at": _epoch(refresh.get("expiresIn"), 86_400),
        },
    )


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
