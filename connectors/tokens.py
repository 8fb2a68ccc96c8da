"""One access token per connection, shared by every worker through the token store (Redis).

PowerOffice, Exact, Sapera and Shopify all hand out tokens that expire, and some of them punish
two refreshes at once (Exact's refresh tokens are single-use; Sapera's login may lock the user
out). So every connector keeps its token the same way: read the shared grant; when it is missing,
stale or was just refused (a 401), renew it under a per-token Redis lock, and re-read after the
wait in case another worker renewed it meanwhile. The grant is stored sealed (Fernet, with a key
derived from a secret that lives only in the configuration), so a copy of Redis holds no token
in the clear. A grant may instead say the connection is blocked (consent withdrawn, login
refused): every caller then gets `ConnectionBlocked`, and nobody asks the ERP again until the
grant is replaced.

A connector supplies only how to renew: `renew(previous)` returns the new `Grant` (it may read
`previous.extra`, e.g. a refresh token) or calls `block(...)`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from connectors.base import TokenStore
from connectors.errors import ConnectionBlocked


@dataclass
class Grant:
    """A token, when the ERP says it expires and when it was issued (epoch seconds); `extra` is
    the connector's own (refresh token, its id and expiry, ...); `blocked` the reason the
    connection waits."""

    access_token: str
    expires_at: float
    extra: dict[str, Any] = field(default_factory=dict)
    blocked: str | None = None
    issued_at: float = field(default_factory=time.time)

    def renew_at(self, margin_seconds: float) -> float:
        """`margin_seconds` before it expires, but never in the first half of its life (a token
        issued for less than twice the margin would otherwise be stale at birth)."""
        return self.expires_at - min(margin_seconds, (self.expires_at - self.issued_at) / 2)

    def to_json(self) -> str:
        return json.dumps(
            {
                **self.extra,
                "access_token": self.access_token,
                "expires_at": self.expires_at,
                "blocked": self.blocked,
                "issued_at": self.issued_at,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Grant:
        record = json.loads(raw)
        if not isinstance(record, dict):
            raise ValueError("not a grant")
        access_token, expires_at = record.pop("access_token"), record.pop("expires_at")
        blocked = record.pop("blocked", None)
        issued_at = record.pop("issued_at", 0.0)
        if not isinstance(access_token, str) or not isinstance(expires_at, (int, float)):
            raise ValueError("not a grant")
        return cls(access_token, float(expires_at), record, blocked, float(issued_at or 0.0))


Renew = Callable[["Grant | None"], Grant]


class SharedToken:
    """`get()` and `refresh(stale)` for `connectors.http.BearerAuth`.

    `margin_seconds`: a grant is renewed this long before `expires_at` (see `Grant.renew_at`).
    `keep_seconds`: how long the store keeps a grant (None: until it is due for renewal; longer
    when it carries a refresh token).
    `seal_with`: the key material, a label plus a configured secret (Exact's label is the one its
    stored grants were sealed with before this module existed, so they still open).
    `local_seconds`: a copy held in memory spares a Redis round trip per ERP request; it is
    dropped on any refresh. `blocked_retry`: the retry-after of `ConnectionBlocked`."""

    def __init__(
        self,
        store: TokenStore,
        name: str,
        renew: Renew,
        *,
        seal_with: bytes,
        margin_seconds: float = 0.0,
        keep_seconds: float | None = None,
        lock_seconds: float = 30.0,
        local_seconds: float = 0.0,
        blocked_retry: float = 15.0,
    ) -> None:
        self.store, self.name, self.renew = store, name, renew
        self.margin_seconds, self.keep_seconds = margin_seconds, keep_seconds
        self.lock_seconds, self.local_seconds = lock_seconds, local_seconds
        self.blocked_retry = blocked_retry
        key = hashlib.sha256(seal_with).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self._held: tuple[str, float] = ("", 0.0)

    # --- the grant in the store ----------------------------------------------------------------
    def load(self) -> Grant | None:
        raw = self.store.token_get(self.name)
        if not raw:
            return None
        try:
            return Grant.from_json(self._fernet.decrypt(raw.encode()))
        except (InvalidToken, ValueError, TypeError, KeyError):
            return None  # sealed with another secret, or an older format: as good as none

    def save(self, grant: Grant, keep_seconds: float | None = None) -> None:
        keep = keep_seconds if keep_seconds is not None else self.keep_seconds
        if keep is None:
            keep = grant.renew_at(self.margin_seconds) - time.time()
        sealed = self._fernet.encrypt(grant.to_json().encode()).decode()
        self.store.token_put(self.name, sealed, max(1.0, keep))

    def block(self, message: str, keep_seconds: float | None = None, **error: Any) -> None:
        """Mark the connection blocked (keeping the rest of the grant) and raise
        `ConnectionBlocked`; `error` goes to the exception (erp_status, erp_response)."""
        grant = self.load() or Grant("", 0.0)
        grant.blocked = message
        self.save(grant, keep_seconds)
        raise ConnectionBlocked(message, retry_after=self.blocked_retry, **error)

    def fresh(self, grant: Grant | None) -> bool:
        return bool(
            grant
            and not grant.blocked
            and grant.access_token
            and time.time() < grant.renew_at(self.margin_seconds)
        )

    # --- what BearerAuth calls ------------------------------------------------------------------
    def get(self) -> str:
        token, until = self._held
        if token and time.monotonic() < until:
            return token
        grant = self.load()
        self._raise_if_blocked(grant)
        if grant and self.fresh(grant):
            self._hold(grant)
            return grant.access_token
        return self.refresh(stale=grant.access_token if grant else None)

    def refresh(self, stale: str | None) -> str:
        """A new token, unless another worker already replaced `stale` with a fresh one."""
        self._held = ("", 0.0)
        with self.store.locked(
            "token", self.name, timeout=self.lock_seconds, wait=self.lock_seconds
        ):
            grant = self.load()
            self._raise_if_blocked(grant)
            if grant and grant.access_token != stale and self.fresh(grant):
                self._hold(grant)
                return grant.access_token  # another worker renewed it while we waited
            renewed = self.renew(grant)
            self.save(renewed)
            self._hold(renewed)
            return renewed.access_token

    def _raise_if_blocked(self, grant: Grant | None) -> None:
        if grant and grant.blocked:
            raise ConnectionBlocked(grant.blocked, retry_after=self.blocked_retry)

    def _hold(self, grant: Grant) -> None:
        if self.local_seconds > 0:
            until = min(self.local_seconds, grant.renew_at(self.margin_seconds) - time.time())
            self._held = (grant.access_token, time.monotonic() + until)


class ProcessTokens:
    """A `TokenStore` inside one process, for callers without Redis (a one-off CLI read): the
    same renew-once logic, shared by nobody else."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def token_get(self, name: str) -> str | None:
        value, until = self._tokens.get(name, ("", 0.0))
        return value if value and time.monotonic() < until else None

    def token_put(self, name: str, value: str, ttl_seconds: float) -> None:
        self._tokens[name] = (value, time.monotonic() + ttl_seconds)

    @contextmanager
    def locked(self, *parts: str, timeout: float = 30, wait: float = 30) -> Iterator[None]:
        with self._lock:
            yield
