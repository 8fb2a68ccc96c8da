"""The three kinds of failure, and the one function that decides which kind a failure is.

    Exception
     └── ErpError                  anything an ERP call can fail with, classified
          ├── TransientError       the ERP did not act; safe to try again (connect errors,
          │    │                   502/503/504, a timeout on a read)
          │    ├── RateLimited     our request budget is used up until a known reset, or the ERP
          │    │                   answered 429: wait, without counting an attempt
          │    ├── ConnectionBlocked  the connection needs an operator (re-consent): its jobs wait
          │    └── NotYet          what the step needs is not there yet (a refund's original)
          ├── AmbiguousError       a write may have been committed (read timeout or 500 on a
          │                        write, connection dropped after sending): look before writing
          └── PermanentError       repeating fails the same way (400/422, unknown article,
               │                   401/403 configuration): dead-letter at once
               └── StaleReference  a customer or article id we cached is gone in the ERP:
                                   refresh it once, then dead-letter

Connectors never catch httpx errors themselves: they call `check(response)` for answers they
do not expect and let everything else propagate; the step runner calls `classify()` once.
A failure of our own Redis that passes by itself (unreachable, failing over, short of replicas)
is transient too: `redis_unavailable()` says which.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import redis

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECRET_KEYS = re.compile(
    r"(token|secret|password|authorization|client_key|api_key|"
    r"subscription)",
    re.IGNORECASE,
)
MAX_RESPONSE_CHARS = 4000
RATE_LIMIT_WAIT = 5.0  # seconds to wait after a 429 that says nothing of when to come back


# Redis replies that mean "not now": a demoted master (READONLY), fewer replicas than
# `min-replicas-to-write` (NOREPLICAS, which redis-py gives no class of its own), a replica
# cut off from its master (MASTERDOWN), a server loading its data (LOADING), TRYAGAIN.
TRANSIENT_REDIS_REPLIES = frozenset({"READONLY", "NOREPLICAS", "MASTERDOWN", "LOADING", "TRYAGAIN"})
_TRANSIENT_REDIS_TYPES = (
    redis.exceptions.ConnectionError,  # LOADING included (BusyLoadingError)
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
    redis.exceptions.MasterDownError,
)


def redis_unavailable(exc: BaseException) -> bool:
    """Is this a failure of our own Redis that passes by itself (retry later, never give up)?"""
    if isinstance(exc, _TRANSIENT_REDIS_TYPES):
        return True
    return (
        isinstance(exc, redis.exceptions.ResponseError)
        and str(exc).split(" ", 1)[0] in TRANSIENT_REDIS_REPLIES
    )


class ErpError(Exception):
    kind = "permanent"

    def __init__(
        self,
        message: str,
        *,
        erp_status: int | None = None,
        erp_response: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.erp_status = erp_status
        self.erp_response = redact(erp_response)
        self.retry_after = retry_after


class TransientError(ErpError):
    """The ERP did not act; the same call may simply be made again."""

    kind = "transient"


class RateLimited(TransientError):
    """Our share of the ERP's request budget is used up until a known time. Waiting for it is
    not a failure: it never counts as an attempt and never leads to a dead letter."""


class ConnectionBlocked(TransientError):
    """The connection itself cannot work until an operator acts (e.g. the ERP refused our
    refresh token: re-consent is needed). Its jobs wait instead of dead-lettering one by one."""


class NotYet(TransientError):
    """What the step needs is not there yet (a refund whose original order has not reached
    the ERP): it waits, without counting an attempt and without a dead letter."""


class AmbiguousError(ErpError):
    """The ERP may have acted; look the object up before writing again."""

    kind = "ambiguous"


class PermanentError(ErpError):
    """Repeating would fail the same way; an operator must change something."""

    kind = "permanent"


class InvalidId(PermanentError):
    """A caller-supplied id that no resource of the ERP or shop can have (empty, a dot path,
    over-long, not a GUID where the ERP's ids are GUIDs); nothing was sent."""


class StaleReference(PermanentError):
    """The ERP no longer knows a customer or article we hold an id for (deleted, merged, or a
    connection re-pointed at another company): our cache is wrong, not the order. The pipeline
    forgets the cached ids and runs the upsert step again once before it gives up."""

    def __init__(self, what: str, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.what = what  # "customer" | "product"


class ErpHttpError(Exception):
    """An unexpected HTTP answer, raised by `check()` and turned into a kind by `classify()`."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(
            f"{response.request.method} {response.request.url.path} answered {response.status_code}"
        )
        self.response = response


def check(response: httpx.Response) -> httpx.Response:
    """Raise for any answer that is not 2xx; return the response otherwise."""
    if response.is_success:
        return response
    raise ErpHttpError(response)


def classify(exc: BaseException) -> ErpError:
    """Map any exception from a connector call to one of the three kinds."""
    if isinstance(exc, ErpError):
        return exc
    if isinstance(exc, ErpHttpError):
        return _classify_response(exc.response)
    if redis_unavailable(exc):
        return TransientError(f"our Redis is not available: {type(exc).__name__}: {exc}")
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return TransientError(f"ERP not reachable: {type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.TransportError):
        method = _method_of(exc)
        text = f"connection failed after sending {method or 'request'}: {type(exc).__name__}: {exc}"
        if method in SAFE_METHODS:
            return TransientError(text)
        return AmbiguousError(text)
    return PermanentError(f"unexpected error: {type(exc).__name__}: {exc}")


def _method_of(exc: httpx.TransportError) -> str | None:
    try:
        return exc.request.method
    except RuntimeError:  # httpx raises when the exception carries no request
        return None


def _classify_response(response: httpx.Response) -> ErpError:
    status = response.status_code
    body = response_body(response)
    detail = erp_message(body) or response.reason_phrase
    method = response.request.method
    text = f"{method} {response.request.url.path} answered {status}: {detail}"
    common = {"erp_status": status, "erp_response": body}
    if status == 429:  # the ERP's own limit: a wait, never an attempt (and never a dead letter)
        return RateLimited(
            text, retry_after=retry_after_seconds(response) or RATE_LIMIT_WAIT, **common
        )
    if status in (502, 503, 504, 408):
        return TransientError(text, retry_after=retry_after_seconds(response), **common)
    if status >= 500:
        if method in SAFE_METHODS:
            return TransientError(text, **common)
        return AmbiguousError(text, **common)
    return PermanentError(text, **common)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds to wait from Retry-After (seconds form), or a 'try again in N seconds' body."""
    header = response.headers.get("Retry-After")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    match = re.search(r"again in (\d+) second", response.text[:500])
    return float(match.group(1)) if match else None


def response_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return response.text[:MAX_RESPONSE_CHARS] or None


def erp_message(body: Any) -> str | None:
    """The human part of an ERP error body (ProblemDetails, OAuth, APIM and OData shapes)."""
    if isinstance(body, dict):
        lowered = {str(k).lower(): v for k, v in body.items()}
        if isinstance(lowered.get("error"), dict):  # OData: {"error": {"message": ...}}
            return erp_message(lowered["error"])
        parts = [
            str(lowered[k])
            for k in ("title", "detail", "error", "error_description", "message")
            if lowered.get(k)
        ]
        return " - ".join(parts) or None
    if isinstance(body, str):
        return body[:300] or None
    return None


def redact(value: Any) -> Any:
    """A copy of an ERP answer with anything that looks like a credential removed."""
    if isinstance(value, dict):
        return {
            k: ("[redacted]" if SECRET_KEYS.search(str(k)) else redact(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value[:50]]
    if isinstance(value, str):
        return re.sub(
            r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+",
            r"\1 [redacted]",
            value[:MAX_RESPONSE_CHARS],
        )
    return value
