"""Request helpers every intake router shares: the process runtime, bearer tokens, a body read
with a size limit."""

from __future__ import annotations

import hmac

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


def require_token(request: Request, expected: str | None, what: str) -> None:
    given = bearer(request)
    if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", f"missing or wrong bearer token for {what}")


def require_operator(request: Request) -> Runtime:
    rt = runtime_of(request)
    token = rt.settings.operator_token
    require_token(request, token.get_secret_value() if token else None, "the operator API")
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
