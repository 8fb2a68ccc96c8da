"""What stands in front of every PowerOffice Go call: the gateway's subscription key and
throttle, and the OAuth client-credentials token the API itself checks.

Order of checks, like Azure API Management then the API: subscription key (401), throttle per key
(429), then the bearer token (401) or, on the token URL, the application and client keys (400).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections import deque
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from simulators.poweroffice.options import PowerOfficeSimOptions
from simulators.poweroffice.problems import (
    INVALID_SUBSCRIPTION_KEY,
    MISSING_SUBSCRIPTION_KEY,
    gateway_error,
    json_response,
    rate_limited,
)

INVALID_CLIENT = {
    "error": "invalid_client",
    "error_description": "Client integration not found. Please ensure the provided "
    "keys are matching the desired environment.",
}


class Gateway:
    def __init__(self) -> None:
        self._tokens: dict[str, float] = {}  # token -> expiry (monotonic seconds)
        self._hits: dict[str, deque[float]] = {}  # subscription key -> recent request times

    def clear_throttle(self) -> None:
        self._hits.clear()

    def admit(self, request: Request, options: PowerOfficeSimOptions) -> Response | None:
        """The gateway's refusal, if any: missing or wrong subscription key, or over the rate."""
        key = request.headers.get("ocp-apim-subscription-key") or next(
            (v for k, v in request.query_params.items() if k.lower() == "subscription-key"), None
        )
        if not key:
            return gateway_error(401, MISSING_SUBSCRIPTION_KEY)
        if not _same(key, options.subscription_key):
            return gateway_error(401, INVALID_SUBSCRIPTION_KEY)
        if not self._within_rate(key, options.rate_limit_per_second):
            return rate_limited(options.send_retry_after)
        return None

    def authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expiry = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        return expiry is not None and time.monotonic() < expiry

    async def issue_token(self, request: Request, options: PowerOfficeSimOptions) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type"}, 400)
        if not _client_matches(request.headers.get("authorization", ""), options):
            return json_response(INVALID_CLIENT, 400)
        token = secrets.token_urlsafe(32)
        self._tokens[token] = time.monotonic() + options.token_lifetime_s
        return json_response(
            {"access_token": token, "token_type": "bearer", "expires_in": options.token_lifetime_s}
        )

    def _within_rate(self, key: str, per_second: int) -> bool:
        if per_second <= 0:
            return True
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] >= 1.0:
            hits.popleft()
        if len(hits) >= per_second:
            return False  # refused calls do not count, so waiting one second always helps
        hits.append(now)
        return True


def _client_matches(authorization: str, options: PowerOfficeSimOptions) -> bool:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        app_key, _, client_key = base64.b64decode(encoded.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return _same(app_key, options.application_key) and _same(client_key, options.client_key)


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())
