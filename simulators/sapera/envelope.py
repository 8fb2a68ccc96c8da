"""Sapera's answers: every call, good or bad, is the `errorOrValue` envelope.

`{"modelType": "Response<T>", "errorOrValue": {"value": ..., "error": null}}` on success (HTTP
200); on failure `value` is null and `error = {"errorCode": int, "message": str}` with the codes
of the vendor's client (ErrorCode.swift). Which HTTP status goes with an error is unknown, so
this mapping is our choice: a connector must read the status *and* the error code.

    0 InternalError 500      5 NotExists 400             10 NoTenant 400
    1 Validation 400         6 AlreadyExists 400         11 FeatureAccessDenied 403
    2 AccessDenied 403       7 TenantNotReady 503        12 AppAccessDenied 403
    3 AuthenticationRequired 401   8 CannotDeleteEntityInUse 400
    4 MethodNotFound 404     9 ConcurrencyConflict 409

A `status` fault answers with the code whose status it is (503 is TenantNotReady, other 5xx
InternalError, other 4xx Validation); throttling, whose answer is unknown too, is a 429 with
`Retry-After` and InternalError, which clients treat as transient.
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any

from starlette.responses import Response


class Code(IntEnum):
    INTERNAL_ERROR = 0
    VALIDATION = 1
    ACCESS_DENIED = 2
    AUTHENTICATION_REQUIRED = 3
    METHOD_NOT_FOUND = 4
    NOT_EXISTS = 5
    ALREADY_EXISTS = 6
    TENANT_NOT_READY = 7
    CANNOT_DELETE_ENTITY_IN_USE = 8
    CONCURRENCY_CONFLICT = 9
    NO_TENANT = 10
    FEATURE_ACCESS_DENIED = 11
    APP_ACCESS_DENIED = 12


STATUS = {
    Code.INTERNAL_ERROR: 500,
    Code.VALIDATION: 400,
    Code.ACCESS_DENIED: 403,
    Code.AUTHENTICATION_REQUIRED: 401,
    Code.METHOD_NOT_FOUND: 404,
    Code.NOT_EXISTS: 400,
    Code.ALREADY_EXISTS: 400,
    Code.TENANT_NOT_READY: 503,
    Code.CANNOT_DELETE_ENTITY_IN_USE: 400,
    Code.CONCURRENCY_CONFLICT: 409,
    Code.NO_TENANT: 400,
    Code.FEATURE_ACCESS_DENIED: 403,
    Code.APP_ACCESS_DENIED: 403,
}
_CODE_FOR_STATUS = {
    400: Code.VALIDATION,
    401: Code.AUTHENTICATION_REQUIRED,
    403: Code.ACCESS_DENIED,
    404: Code.METHOD_NOT_FOUND,
    409: Code.CONCURRENCY_CONFLICT,
    500: Code.INTERNAL_ERROR,
    503: Code.TENANT_NOT_READY,
}
OBJECT = "Object"  # the model name when the action is not known (faults)


class SaperaError(Exception):
    """Raised by handlers; becomes an error envelope."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code, self.message = code, message


def validation(message: str) -> SaperaError:
    return SaperaError(Code.VALIDATION, message)


def not_exists(message: str) -> SaperaError:
    return SaperaError(Code.NOT_EXISTS, message)


def already_exists(message: str) -> SaperaError:
    return SaperaError(Code.ALREADY_EXISTS, message)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(
        body, status_code=status, headers=headers, media_type="application/json; charset=utf-8"
    )


def value_response(value: Any, model: str) -> Response:
    return json_response(
        {"modelType": f"Response<{model}>", "errorOrValue": {"value": value, "error": None}}
    )


def error_response(
    code: Code,
    message: str,
    model: str = OBJECT,
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {
        "modelType": f"Response<{model}>",
        "errorOrValue": {"value": None, "error": {"errorCode": int(code), "message": message}},
    }
    return json_response(body, status or STATUS[code], headers)


def usual_error(status: int) -> Response:
    """What the simulated service answers for an HTTP error `status` (a `status` fault)."""
    if status == 429:
        return rate_limited()
    code = _CODE_FOR_STATUS.get(status, Code.INTERNAL_ERROR if status >= 500 else Code.VALIDATION)
    return error_response(code, f"Simulated {status}: {code.name}.", status=status)


def rate_limited() -> Response:
    return error_response(
        Code.INTERNAL_ERROR,
        "Too many requests. Try again later.",
        status=429,
        headers={"Retry-After": "1"},
    )
