"""The intake's error answer, `{"error": {"code", "message", "details"}}`, and pydantic's errors
as details that name the field (`lines.0.quantity`).

The same shape is published in `/openapi.json` as pydantic models (`ErrorBody`), one response per
status a route can answer (`error_responses`), so a client can be generated against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

UNION_TAGS = {"product", "text", "shipping"}

# What each error status means at this intake, as the API documentation says it.
ERROR_STATUSES: dict[int, str] = {
    400: "The body is not valid JSON (`invalid_json`).",
    401: "Missing or wrong bearer token, or a webhook signature that does not match "
    "(`unauthorized`, `bad_signature`).",
    404: "No such connection, job, dead letter or ERP document (`unknown_connection`, "
    "`not_found`).",
    409: "Someone else holds the job, or runs the backfill, right now; try again (`busy`).",
    413: "The body is larger than `[orderbridge.intake] max_body_bytes`, 1 MiB by default "
    "(`body_too_large`).",
    422: "The body (or a parameter) is not usable; `details` names each field "
    "(`validation_failed`, `unusable_order`, `unusable_refund`), or asks for what is not "
    "supported (`not_supported`, `cannot_backfill`).",
    502: "The ERP answered with an error or could not be reached (`erp_error`, `erp_unreachable`).",
    503: "Redis (the queue) is not reachable, or the ERP is down or busy; retry after "
    "`Retry-After` seconds where given (`unavailable`, `erp_unavailable`).",
}


class ErrorDetail(BaseModel):
    """One problem, naming the field (dotted path into the body, `body` for the whole)."""

    model_config = ConfigDict(extra="allow")
    field: str = Field(examples=["lines.0.quantity"])
    message: str = Field(examples=["Input should be greater than 0"])


class Error(BaseModel):
    code: str = Field(description="stable, machine-readable", examples=["validation_failed"])
    message: str = Field(
        description="for people: what is wrong, naming the field",
        examples=["order is invalid: lines.0.quantity: Input should be greater than 0"],
    )
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of the intake."""

    error: Error


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries: the error shape for each status."""
    return {
        status: {"model": ErrorBody, "description": ERROR_STATUSES[status]} for status in statuses
    }


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []


def error_body(
    code: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def invalid_message(subject: str, details: Sequence[dict[str, Any]]) -> str:
    """`<subject> is invalid: field: message; …` naming the first five problems."""
    return f"{subject} is invalid: " + "; ".join(
        f"{d['field']}: {d['message']}" for d in details[:5]
    )


def field_name(loc: tuple[Any, ...]) -> str:
    """('lines', 0, 'product', 'quantity') → 'lines.0.quantity' (drop union tags)."""
    parts = [
        str(p)
        for i, p in enumerate(loc)
        if not (p in UNION_TAGS and i > 0 and isinstance(loc[i - 1], int))
    ]
    return ".".join(parts) or "body"


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return error_details(exc.errors())


def error_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """pydantic's (or FastAPI's request-validation) errors as `{"field", "message"}`."""
    return [
        {
            "field": field_name(tuple(e["loc"])),
            "message": str(e["msg"]).removeprefix("Value error, "),
        }
        for e in errors[:50]
    ]
