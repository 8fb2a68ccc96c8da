"""Request helpers every intake router shares: the process runtime, bearer tokens and the status
page's session cookie, a body read with a size limit and parsed as JSON."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request

from core.runtime import Runtime
from workers.intake.errors import ApiError


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def operator_token(request: Request) -> str | None:
    """The configured operator token, None when there is none."""
    token = runtime_of(request).settings.operator_token
    return token.get_secret_value() if token else None


def token_matches(given: str, expected: str | None) -> bool:
    """`given` is the (non-empty) token `expected`, compared in constant time."""
    return bool(given and expected) and hmac.compare_digest(
        given.encode(), (expected or "").encode()
    )


def require_token(request: Request, expected: str | None, what: str) -> None:
    if not token_matches(bearer(request), expected):
        raise ApiError(401, "unauthorized", f"missing or wrong bearer token for {what}")


# --- the session cookie -------------------------------------------------------------------------
# The status page's session (workers.intake.status): an HMAC of the operator token in an
# HttpOnly, SameSite=Strict cookie, accepted by the operator API only on calls the page's own
# script makes (`same_origin_call`: the CSRF guard, the cookie alone is never enough).
OPERATOR_COOKIE = "ob_operator"
OPERATOR_HEADER = "x-orderbridge-operator"  # what the page's fetch() calls send, value "1"


def session_value(token: str) -> str:
    """The cookie's value: derived from the token, useless as a bearer token."""
    return hmac.new(token.encode(), b"orderbridge status session v1", hashlib.sha256).hexdigest()


def origin_is_ours(request: Request) -> bool:
    """No Origin header (not a cross-origin call), or one naming the host that was asked."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host", "")


def same_origin_call(request: Request) -> bool:
    """A call the page's own script made: the custom header (a cross-origin page needs a CORS
    preflight to send it, which the intake never grants; a form or an image cannot send it),
    and Origin / Sec-Fetch-Site, when the browser sends them, naming this very site."""
    if request.headers.get(OPERATOR_HEADER) != "1":
        return False
    return (
        origin_is_ours(request)
        and request.headers.get("sec-fetch-site", "same-origin") == "same-origin"
    )


def session_ok(request: Request, expected: str | None) -> bool:
    """The request carries the session cookie of the operator token `expected`."""
    return bool(expected) and token_matches(
        request.cookies.get(OPERATOR_COOKIE, ""), session_value(expected or "")
    )


def require_operator(request: Request) -> Runtime:
    """The operator token as a bearer header, or the status page's session cookie on a call its
    own script made (`same_origin_call`: the cookie alone is never enough)."""
    rt = runtime_of(request)
    expected = operator_token(request)
    if not bearer(request) and same_origin_call(request) and session_ok(request, expected):
        return rt
    require_token(request, expected, "the operator API")
    return rt


async def read_limited(request: Request) -> bytes:
    limit = runtime_of(request).settings.intake.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "body_too_large", f"body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise ApiError(413, "body_too_large", f"body is larger than {limit} bytes")
    return bytes(body)


def parse_json(raw: bytes) -> Any:
    """The body as JSON, or 400: nesting too deep for the parser is not JSON we take either."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}") from None
