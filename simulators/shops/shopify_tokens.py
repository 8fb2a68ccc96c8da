"""Who may call the simulated Admin API: the OAuth client-credentials grant and the token check.

Apps made in Shopify's Dev Dashboard (every new custom app since January 2026) have no permanent
admin token: the app posts `grant_type=client_credentials`, `client_id` and `client_secret` to
`POST /admin/oauth/access_token` (form-encoded, as shopify.dev shows; JSON, as Shopify's own
Node library sends, is taken too) and gets `{"access_token", "scope", "expires_in"}`: a token
that lives about a day (`expires_in` 86399; the option `token_lifetime_seconds` shortens it for
tests). Apps made before keep their static `shpat_` token: the option `access_token` stays valid.
Every Admin API call (REST and GraphQL) must carry one of them in `X-Shopify-Access-Token`;
a missing, unknown or expired token is a 401.

Unconfirmed: the answer to wrong client credentials. We answer 400 with an OAuth error body
`{"error": "invalid_client", "error_description": ...}`; a client should treat any 4xx from
the token endpoint as a configuration error. `POST /_sim/tokens/expire` ends every issued token
at once, so tests need not wait a lifetime.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

SCOPE = "read_orders,read_all_orders,read_customers"


class TokenIssuer:
    def __init__(self) -> None:
        self.issued: dict[str, float] = {}  # token -> monotonic expiry
        self.lock = threading.Lock()

    def issue(self, lifetime_seconds: int) -> str:
        token = f"shpat_{secrets.token_hex(16)}"
        with self.lock:
            self.issued[token] = time.monotonic() + lifetime_seconds
        return token

    def valid(self, token: str | None, static_token: str) -> bool:
        if not token:
            return False
        if secrets.compare_digest(token, static_token):
            return True
        with self.lock:
            expiry = self.issued.get(token)
        return expiry is not None and time.monotonic() < expiry

    def expire_all(self) -> int:
        with self.lock:
            count = len(self.issued)
            self.issued = dict.fromkeys(self.issued, 0.0)
        return count


async def grant(
    request: Request, issuer: TokenIssuer, client_id: str, client_secret: str, lifetime_seconds: int
) -> Response:
    """`POST /admin/oauth/access_token` for the client-credentials grant."""
    fields = await _fields(request)
    if fields.get("grant_type") != "client_credentials":
        return oauth_error(
            "unsupported_grant_type", "grant_type must be client_credentials for this endpoint"
        )
    given_id, given_secret = fields.get("client_id") or "", fields.get("client_secret") or ""
    if not (
        secrets.compare_digest(given_id, client_id)
        and secrets.compare_digest(given_secret, client_secret)
    ):
        return oauth_error(
            "invalid_client",
            "Client authentication failed: unknown client_id or wrong client_secret",
        )
    token = issuer.issue(lifetime_seconds)
    return JSONResponse({"access_token": token, "scope": SCOPE, "expires_in": lifetime_seconds})


async def _fields(request: Request) -> dict[str, str]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body: Any = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    fields = dict(parse_qsl(raw.decode("utf-8", "replace")))
    fields.update({k: v for k, v in request.query_params.items() if k not in fields})
    return fields


def oauth_error(code: str, description: str) -> Response:
    return JSONResponse({"error": code, "error_description": description}, status_code=400)
