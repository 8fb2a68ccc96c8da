"""The CRS security service: login, refresh, and the token check in front of every API call.

- `Login` takes `tenantDomainName`, `userNameOrEMail`, `password` (keys in any casing). A bad
  password is not an error: the value comes back with `resultCode` 2 (the vendor's client:
  1 success, 2 invalidCredentials, 3 userDisabled, 4 ipBlocked, 5 oneTimePasswordIsRequired,
  6 invalidOneTimePassword, 7 waitBeforeNextAttempt). An unknown tenant is error NoTenant.
- `loginWithRefreshToken` (no Authorization header) takes `tenantDomainName`, the refresh token
  and a token id (field names are options; the id may be the refresh token's or its access
  token's). Refresh tokens are single-use: each refresh issues a new pair, and a used one
  answers `resultCode` 2.
- API calls carry `Authorization: Bearer <token>`; the raw token without "Bearer" is accepted
  too, as the vendor's own clients send it.
Tokens belong to the security service, not to the tenant's data, so a simulator reset keeps them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from simulators.sapera.envelope import Code, SaperaError
from simulators.sapera.fields import Body
from simulators.sapera.options import SaperaSimOptions
from simulators.sapera.store import Store

SUCCESS, INVALID_CREDENTIALS = 1, 2


@dataclass
class _Refresh:
    token_id: str
    access_token_id: str
    user: dict[str, Any]
    expires: float
    used: bool = False


class Identity:
    def __init__(self) -> None:
        self._access: dict[str, float] = {}  # access token -> expiry (epoch seconds)
        self._refresh: dict[str, _Refresh] = {}

    def authorized(self, header: str | None) -> bool:
        scheme, _, rest = (header or "").strip().partition(" ")
        token = rest.strip() if scheme.lower() == "bearer" else scheme
        expiry = self._access.get(token)
        return expiry is not None and time.time() < expiry

    def expire_all(self) -> int:
        """Expire every live access token now (a test hook); how many there were."""
        now = time.time()
        live = [token for token, expiry in self._access.items() if expiry > now]
        for token in live:
            self._access[token] = now
        return len(live)

    def login(
        self, body: Body, options: SaperaSimOptions, store: Store, forced: Callable[[], int]
    ) -> dict[str, Any]:
        """The login value; `forced()` is the result code the options force (1: none)."""
        _check_tenant(body, options)
        user = _user(body.get("userNameOrEMail"), body.get("password"), options, store)
        code = forced()
        if code != SUCCESS:
            return _failed(code)
        return self._issue(user, options) if user else _failed(INVALID_CREDENTIALS)

    def refresh(
        self, body: Body, options: SaperaSimOptions, forced: Callable[[], int]
    ) -> dict[str, Any]:
        _check_tenant(body, options)
        given = self._refresh.get(str(body.get(options.refresh_token_field) or ""))
        token_id = body.get(options.refresh_token_id_field)
        if (
            given is None
            or given.used
            or time.time() >= given.expires
            or token_id not in (given.token_id, given.access_token_id)
        ):
            return _failed(INVALID_CREDENTIALS)
        code = forced()
        if code != SUCCESS:
            return _failed(code)
        given.used = True
        return self._issue(given.user, options)

    def _issue(self, user: dict[str, Any], options: SaperaSimOptions) -> dict[str, Any]:
        now = time.time()
        access, access_id = secrets.token_urlsafe(48), secrets.token_hex(16)
        refresh, refresh_id = secrets.token_urlsafe(48), secrets.token_hex(16)
        self._access[access] = now + options.token_seconds
        refresh_expires = now + options.refresh_token_seconds
        self._refresh[refresh] = _Refresh(refresh_id, access_id, user, refresh_expires)
        return {
            "resultCode": SUCCESS,
            "token": access,
            "tokenId": access_id,
            "expiresIn": _iso(now + options.token_seconds),
            "userInfo": {
                "id": user["id"],
                "displayName": user["displayName"],
                "tenantName": options.tenant,
            },
            "refreshTokenInfo": {
                "tokenId": refresh_id,
                "token": refresh,
                "expiresIn": _iso(refresh_expires),
            },
        }


def _check_tenant(body: Body, options: SaperaSimOptions) -> None:
    tenant = body.get("tenantDomainName")
    if not isinstance(tenant, str) or tenant.lower() != options.tenant.lower():
        raise SaperaError(Code.NO_TENANT, f"Tenant '{tenant}' does not exist.")


def _user(
    name: Any, password: Any, options: SaperaSimOptions, store: Store
) -> dict[str, Any] | None:
    """The user these credentials log in as: the integration's, or one the User role made."""
    if not isinstance(name, str) or not isinstance(password, str):
        return None
    if name.lower() == options.username.lower() and _same(password, options.password):
        return {"id": 1, "displayName": "Webshop integration"}
    user = store.user(name)
    if user is not None and _same(password, user["password"]):
        return {"id": user["id"], "displayName": user["userName"]}
    return None


def _failed(code: int) -> dict[str, Any]:
    return {
        "resultCode": code,
        "token": None,
        "tokenId": None,
        "expiresIn": None,
        "userInfo": None,
        "refreshTokenInfo": None,
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())
