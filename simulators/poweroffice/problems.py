"""PowerOffice Go's error answers, in the shapes the real API and its gateway use.

The API itself answers RFC 7807 ProblemDetails with a handful of fixed titles; the Azure API
Management gateway in front of it answers subscription-key and throttling errors in its own
`{"statusCode", "message"}` shape. Connectors classify on both, so both are copied here.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

NOT_FOUND = "Object(s) not found"
INVALID_RESOURCE = "Invalid resourceParameter"
CAST_ERROR = "Unable to cast object(s)"
CONFLICT = "Object conflict"
MISSING_SUBSCRIPTION_KEY = (
    "Access denied due to missing subscription key. Make sure to include "
    "subscription key when making requests to an API."
)
INVALID_SUBSCRIPTION_KEY = (
    "Access denied due to invalid subscription key. Make sure to provide "
    "a valid key for an active subscription."
)
RATE_LIMIT_BODY = {
    "statusCode": "429",
    "message": "Rate limit is exceeded. Try again in 1 seconds.",
}
_GATEWAY_BODIES = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
_STATUS_TITLES = {
    400: "Bad Request",
    403: "Forbidden",
    404: NOT_FOUND,
    405: "Method Not Allowed",
    409: CONFLICT,
    415: "Unsupported Media Type",
    500: "Internal Server Error",
}


class ApiError(Exception):
    """Raised by handlers; becomes a ProblemDetails answer."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status, self.title, self.detail = status, title, detail

    def response(self, instance: str) -> Response:
        return problem(self.status, self.title, self.detail, instance)


def validation(entity: str, detail: str) -> ApiError:
    return ApiError(400, f"{entity} validation error(s)", detail)


def not_found(detail: str) -> ApiError:
    return ApiError(404, NOT_FOUND, detail)


def cast_error(detail: str) -> ApiError:
    return ApiError(400, CAST_ERROR, detail)


def invalid_resource(detail: str) -> ApiError:
    return ApiError(400, INVALID_RESOURCE, detail)


def conflict(detail: str) -> ApiError:
    return ApiError(409, CONFLICT, detail)


def json_response(
    data: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    media_type: str = "application/json; charset=utf-8",
) -> Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, headers=headers, media_type=media_type)


def problem(status: int, title: str, detail: str | None, instance: str | None = None) -> Response:
    body = {
        "type": f"https://httpstatuses.io/{status}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    return json_response(body, status, media_type="application/problem+json; charset=utf-8")


def gateway_error(status: int, message: str) -> Response:
    return json_response({"statusCode": status, "message": message}, status)


def unauthorized() -> Response:
    """A missing, unknown or expired bearer token: 401 with an empty body."""
    return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})


def rate_limited(send_retry_after: bool) -> Response:
    headers = {"Retry-After": "1"} if send_retry_after else None
    return json_response(RATE_LIMIT_BODY, 429, headers)


def usual_error(status: int, send_retry_after: bool = True) -> Response:
    """What the real service answers for `status` when nothing more specific is known."""
    if status == 401:
        return unauthorized()
    if status == 429:
        return rate_limited(send_retry_after)
    if status in _GATEWAY_BODIES:
        return Response(_GATEWAY_BODIES[status], status_code=status, media_type="text/plain")
    title = _STATUS_TITLES.get(status, "Error")
    return problem(status, title, f"Simulated {status} {title}.")
