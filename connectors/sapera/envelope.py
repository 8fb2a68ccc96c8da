"""Sapera's answer envelope and error codes, turned into values or our error kinds.

Every call is a POST; the answer is `{"modelType", "errorOrValue": {"value", "error"}}` (or, on
some pages of the docs, the flat `{"value", "error"}`), and a failure is
`error = {"errorCode", "message"}` whatever the HTTP status. Codes 0 (internal), 7 (tenant not
ready) and 9 (concurrency conflict) are worth another try; an internal error on a command may
have committed it (ambiguous); code 3 means our token is no longer good; the rest are permanent.
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors.errors import (
    AmbiguousError,
    ErpError,
    PermanentError,
    TransientError,
    check,
    response_body,
)

RETRYABLE_CODES = frozenset({0, 7, 9})
AUTHENTICATION_REQUIRED = 3
CODE_NAMES = {
    0: "InternalError",
    1: "Validation",
    2: "AccessDenied",
    3: "AuthenticationRequired",
    4: "MethodNotFound",
    5: "NotExists",
    6: "AlreadyExists",
    7: "TenantNotReady",
    8: "CannotDeleteEntityInUse",
    9: "ConcurrencyConflict",
    10: "NoTenant",
    11: "FeatureAccessDenied",
    12: "AppAccessDenied",
}


def wrap(value: Any) -> dict[str, Any]:
    """An optional field, as Sapera wants it: `{"value": X}`."""
    return {"value": value}


def value_of(response: httpx.Response, command: bool) -> Any:
    """The answer's value; raises the classified error when it carries one. `command` says
    whether the call changes something (then an internal error may have committed it)."""
    body = response_body(response)
    envelope = body.get("errorOrValue", body) if isinstance(body, dict) else None
    error = envelope.get("error") if isinstance(envelope, dict) else None
    if isinstance(error, dict):
        raise error_for(response, error, command)
    check(response)  # no envelope error, but not a 2xx: classified by status
    if not isinstance(envelope, dict):
        raise PermanentError(
            f"{_where(response)}: unexpected answer without a value",
            erp_status=response.status_code,
            erp_response=body,
        )
    return envelope.get("value")


def error_for(response: httpx.Response, error: dict[str, Any], command: bool) -> ErpError:
    code = error.get("errorCode")
    name = CODE_NAMES.get(code, str(code)) if isinstance(code, int) else str(code)
    text = f"{_where(response)}: Sapera error {code} {name}: {error.get('message') or ''}"
    common = {"erp_status": response.status_code, "erp_response": response_body(response)}
    if code == 0 and command:
        return AmbiguousError(text, **common)
    if code in RETRYABLE_CODES:
        return TransientError(text, retry_after=2.0, **common)
    return PermanentError(text.rstrip(": "), **common)


def _where(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url.path}"
