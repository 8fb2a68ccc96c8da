"""Exact Online's OAuth2 authorization-code grant, with the rules that trip connectors.

- The authorize URL consents at once (no login page) and redirects with a code, so a client can
  run the real flow unattended; a code works once, for a few minutes, with the same redirect URI.
- Access tokens live 600 s from issue, used or not. Refreshing while the current access token is
  younger than 570 s is refused with 401 "Access Token not expired".
- Every refresh rotates the refresh token; the old one is then refused ("Old refresh token
  used"). So twenty workers that all see an expired token and all refresh get one success and
  nineteen refusals: the connector must serialise refreshes.
Tokens belong to the identity server, not to the company, so a simulator reset keeps them.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import Response

from simulators.exact.errors import json_response
from simulators.exact.options import ExactSimOptions

EARLY_REFRESH = "Access Token not expired"
OLD_REFRESH = "Old refresh token used"


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    expires: float


@dataclass
class _Grant:
    """One consent: its current refresh token and access token, and the refresh tokens it used."""

    client_id: str
    refresh_token: str = ""
    refresh_issued: float = 0.0
    access_token: str = ""
    access_issued: float = 0.0
    used_refresh_tokens: set[str] = field(default_factory=set)
    revoked: bool = False


class Identity:
    def __init__(self) -> None:
        self._codes: dict[str, _Code] = {}
        self._grants: dict[str, _Grant] = {}  # refresh token (current or used) -> grant
        self._access: dict[str, float] = {}  # access token -> expiry (epoch seconds)

    def authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expiry = self._access.get(token.strip()) if scheme.lower() == "bearer" else None
        return expiry is not None and time.time() < expiry

    def expire_all(self) -> int:
        """Expire every live access token now (a test hook); how many there were."""
        now = time.time()
        live = [token for token, expiry in self._access.items() if expiry > now]
        for token in live:
            self._access[token] = now
        return len(live)

    def revoke_refresh_tokens(self) -> int:
        """Refuse every refresh token issued so far (a test hook: consent withdrawn); how many
        grants lost theirs. Only a new authorization helps."""
        grants = {id(grant): grant for grant in self._grants.values()}
        for grant in grants.values():
            grant.revoked = True
        return len(grants)

    def authorize(self, request: Request, options: ExactSimOptions) -> Response:
        params = request.query_params
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != options.client_id:
            return json_response(
                {"error": "invalid_client", "error_description": "Unknown client_id"}, 400
            )
        if not redirect_uri.startswith(("http://", "https://")):
            return json_response(
                {"error": "invalid_request", "error_description": "Invalid redirect_uri"}, 400
            )
        if params.get("response_type") != "code":
            return _redirect(
                redirect_uri, {"error": "unsupported_response_type"}, params.get("state")
            )
        code = f"stampNL001.{secrets.token_urlsafe(24)}!{secrets.token_hex(8)}"
        self._codes[code] = _Code(
            options.client_id, redirect_uri, time.time() + options.auth_code_lifetime_s
        )
        return _redirect(redirect_uri, {"code": code}, params.get("state"))

    async def token(self, request: Request, options: ExactSimOptions) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if form.get("client_id") != options.client_id or not _same(
            form.get("client_secret", ""), options.client_secret
        ):
            return _oauth_error("invalid_client", "Invalid client credentials")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form, options)
        if grant_type == "refresh_token":
            return self._refresh(form.get("refresh_token", ""), options)
        return _oauth_error("unsupported_grant_type", None)

    def _exchange_code(self, form: dict[str, str], options: ExactSimOptions) -> Response:
        code = self._codes.pop(form.get("code", ""), None)  # one use, even a failed one
        if code is None or time.time() >= code.expires:
            return _oauth_error("invalid_grant", "Invalid or expired authorization code")
        if form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error("invalid_grant", "The redirect_uri does not match")
        return self._issue(_Grant(code.client_id), options)

    def _refresh(self, refresh_token: str, options: ExactSimOptions) -> Response:
        grant = self._grants.get(refresh_token)
        now = time.time()
        if grant is None or grant.revoked:
            return _oauth_error("invalid_grant", "Invalid refresh token")
        if refresh_token in grant.used_refresh_tokens:
            return _oauth_error("invalid_grant", OLD_REFRESH)
        if now >= grant.refresh_issued + options.refresh_token_lifetime_s:
            expired = datetime.fromtimestamp(
                grant.refresh_issued + options.refresh_token_lifetime_s, UTC
            )
            return _oauth_error(
                "invalid_request", f"The refresh token expired at {expired:%m/%d/%Y %H:%M:%S}"
            )
        access_live = self._access.get(grant.access_token, 0.0) > now
        if (
            options.block_early_refresh
            and access_live
            and now - grant.access_issued < options.early_refresh_block_s
        ):
            return json_response(
                {"error": "invalid_request", "error_description": EARLY_REFRESH},
                401,
                {"Reason": EARLY_REFRESH},
            )
        grant.used_refresh_tokens.add(refresh_token)
        return self._issue(grant, options)

    def _issue(self, grant: _Grant, options: ExactSimOptions) -> Response:
        now = time.time()
        # Real tokens are 600-650 characters, and refresh tokens carry a "!": both break
        # clients that store them in short columns or forget to URL-encode them.
        grant.access_token = "AAEAA" + secrets.token_urlsafe(450)
        grant.access_issued = now
        grant.refresh_token = f"Gcp7!IAAAA{secrets.token_urlsafe(96)}"
        grant.refresh_issued = now
        self._access[grant.access_token] = now + options.access_token_lifetime_s
        self._grants[grant.refresh_token] = grant
        return json_response(
            {
                "access_token": grant.access_token,
                "token_type": "bearer",
                "expires_in": str(options.access_token_lifetime_s),
                "refresh_token": grant.refresh_token,
            },
            headers={"Cache-Control": "no-store"},
        )


def _redirect(redirect_uri: str, values: dict[str, str], state: str | None) -> Response:
    query = urlencode({**values, **({"state": state} if state is not None else {})})
    separator = "&" if "?" in redirect_uri else "?"
    return Response(status_code=302, headers={"Location": f"{redirect_uri}{separator}{query}"})


def _oauth_error(error: str, description: str | None) -> Response:
    body = {"error": error, **({"error_description": description} if description else {})}
    headers = {"Reason": description} if description else None
    return json_response(body, 400, headers)


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())
