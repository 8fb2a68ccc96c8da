"""The intake's error answer, `{"error": {"code", "message", "details"}}`, and pydantic's errors
as details that name the field (`lines.0.quantity`)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

UNION_TAGS = {"product", "text", "shipping"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None
               ) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def field_name(loc: tuple[Any, ...]) -> str:
    """('lines', 0, 'product', 'quantity') → 'lines.0.quantity' (drop union tags)."""
    parts = [str(p) for i, p in enumerate(loc)
             if not (p in UNION_TAGS and i > 0 and isinstance(loc[i - 1], int))]
    return ".".join(parts) or "body"


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"field": field_name(e["loc"]), "message": e["msg"].removeprefix("Value error, ")}
            for e in exc.errors()[:50]]
