"""Duett's error answers: RFC 7807 ProblemDetails, as its ASP.NET API and generated clients use.

Validation errors name the offending field twice over: in `detail` and in an ASP.NET-style
`errors` map, so a connector can show the ERP's reason and a test can check which field it was.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
VALIDATION_TITLE = "One or more validation errors occurred."


class ApiError(Exception):
    """Raised by handlers; becomes a ProblemDetails answer."""

    def __init__(
        self, status: int, detail: str, field: str | None = None, title: str | None = None
    ) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail, self.field = status, detail, field
        self.title = title or (VALIDATION_TITLE if field else TITLES.get(status, "Error"))

    def response(self, instance: str) -> Response:
        extra = {"errors": {self.field: [self.detail]}} if self.field else None
        return problem(self.status, self.title, self.detail, instance, extra=extra)


def invalid(field: str, detail: str) -> ApiError:
    """A 400 about one field of the body (or query)."""
    return ApiError(400, detail, field)


def bad_request(detail: str) -> ApiError:
    return ApiError(400, detail)


def not_found(detail: str) -> ApiError:
    return ApiError(404, detail)


def json_response(
    data: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    media_type: str = "application/json; charset=utf-8",
) -> Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, headers=headers, media_type=media_type)


def problem(
    status: int,
    title: str,
    detail: str | None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body = {
        "type": f"https://httpstatuses.io/{status}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **(extra or {}),
    }
    return json_response(
        body, status, headers, media_type="application/problem+json; charset=utf-8"
    )


def usual_error(status: int) -> Response:
    """What the simulated service answers for `status` when nothing more specific is known."""
    if status == 429:
        return rate_limited()
    title = TITLES.get(status, "Error")
    return problem(status, title, f"Simulated {status} {title}.")


def rate_limited() -> Response:
    # Duett's limits and their answer are unknown; this is the usual ASP.NET rate limiter's.
    return problem(
        429, TITLES[429], "Too many requests. Try again later.", headers={"Retry-After": "1"}
    )
