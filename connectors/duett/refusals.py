"""Duett's refusals as a dry run gives them: RFC 7807 ProblemDetails, the shape Duett's ASP.NET
API answers a 400 or 404 with (erp/duett.md), so the connector raises on them exactly as on the
real answer and the dead letter would carry the same `title - detail`."""

from __future__ import annotations

import httpx

from connectors.rehearsal import json_answer

VALIDATION_TITLE = "One or more validation errors occurred."
TITLES = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
TYPES = {  # what ASP.NET puts in `type` for these statuses
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    405: "https://tools.ietf.org/html/rfc9110#section-15.5.6",
}


class Refused(Exception):
    """Duett would refuse the write: `field` names the body field at fault (a validation
    error, answered with ASP.NET's `errors` map) or is None (a plain 400, 404 or 405)."""

    def __init__(self, detail: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(detail)
        self.detail, self.field, self.status = detail, field, status


def problem_answer(request: httpx.Request, refused: Refused) -> httpx.Response:
    """The ProblemDetails answer to `request` that Duett gives for `refused`."""
    status = refused.status
    body = {
        "type": TYPES.get(status, "about:blank"),
        "title": VALIDATION_TITLE if refused.field else TITLES.get(status, "Error"),
        "status": status,
        "detail": refused.detail,
        "instance": request.url.path,
    }
    if refused.field:
        body["errors"] = {refused.field: [refused.detail]}
    response = json_answer(request, body, status)
    response.headers["Content-Type"] = "application/problem+json; charset=utf-8"
    return response


def invalid(field: str, detail: str) -> Refused:
    return Refused(detail, field)


def choice(field: str, value: object, allowed: tuple[str, ...]) -> str | None:
    """An enum value in its canonical spelling (Duett's enums ignore case), or Duett's
    refusal naming the allowed values."""
    if value is None:
        return None
    found = next(
        (a for a in allowed if isinstance(value, str) and a.lower() == value.lower()), None
    )
    if found is None:
        raise invalid(
            field,
            f"The value '{value}' is not valid for {field}; use one of: {', '.join(allowed)}.",
        )
    return found


def required(fields: dict[str, object], name: str, prefix: str = "") -> object:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise invalid(f"{prefix}{name}", f"The {prefix}{name} field is required.")
    return value
