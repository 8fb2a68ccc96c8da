"""classify(): the error policy as one table, over real httpx responses and exceptions."""

from __future__ import annotations

import httpx
import pytest
import redis

from connectors.errors import (
    AmbiguousError,
    ErpHttpError,
    PermanentError,
    RateLimited,
    TransientError,
    classify,
    erp_message,
    redact,
)


def answer(
    status: int, method: str = "POST", body: object = None, headers: dict[str, str] | None = None
) -> ErpHttpError:
    request = httpx.Request(method, "http://127.0.0.1/v2/SalesOrders/Complete")
    response = httpx.Response(status, json=body, headers=headers, request=request)
    return ErpHttpError(response)


@pytest.mark.parametrize(
    "status, method, kind",
    [
        (400, "POST", PermanentError),
        (401, "GET", PermanentError),
        (403, "POST", PermanentError),
        (404, "GET", PermanentError),
        (409, "POST", PermanentError),
        (422, "POST", PermanentError),
        (408, "POST", TransientError),
        (429, "POST", RateLimited),
        (429, "GET", RateLimited),
        (500, "POST", AmbiguousError),
        (500, "PATCH", AmbiguousError),
        (500, "GET", TransientError),
        (502, "POST", TransientError),
        (503, "POST", TransientError),
        (504, "GET", TransientError),
    ],
)
def test_status_policy(status: int, method: str, kind: type) -> None:
    error = classify(answer(status, method, {"title": "t", "detail": "d"}))
    assert type(error) is kind
    assert error.erp_status == status


def request(method: str) -> httpx.Request:
    return httpx.Request(method, "http://127.0.0.1/x")


@pytest.mark.parametrize(
    "exc, kind",
    [
        (httpx.ConnectError("refused", request=request("POST")), TransientError),
        (httpx.ConnectTimeout("slow", request=request("POST")), TransientError),
        (httpx.PoolTimeout("pool", request=request("POST")), TransientError),
        (httpx.ReadTimeout("slow", request=request("GET")), TransientError),
        (httpx.ReadTimeout("slow", request=request("POST")), AmbiguousError),
        (httpx.RemoteProtocolError("dropped", request=request("POST")), AmbiguousError),
        (httpx.RemoteProtocolError("dropped", request=request("GET")), TransientError),
        (httpx.WriteError("reset", request=request("PATCH")), AmbiguousError),
        (ValueError("bug"), PermanentError),
    ],
)
def test_exception_policy(exc: Exception, kind: type) -> None:
    assert type(classify(exc)) is kind


def test_retry_after_header_and_body() -> None:
    assert classify(answer(429, headers={"Retry-After": "7"})).retry_after == 7.0
    assert classify(answer(429)).retry_after == 5.0  # no hint: a short wait, then again
    body = {"statusCode": "429", "message": "Rate limit is exceeded. Try again in 3 seconds."}
    assert classify(answer(429, body=body)).retry_after == 3.0


def test_erp_message_shapes() -> None:
    assert (
        erp_message({"title": "Customer validation error(s)", "detail": "in use"})
        == "Customer validation error(s) - in use"
    )
    assert erp_message({"error": {"code": "", "message": {"value": "x"}}}) is not None
    body = {"error": "invalid_client", "error_description": "no"}
    assert erp_message(body) == "invalid_client - no"


def test_redact_removes_credentials() -> None:
    cleaned = redact(
        {
            "access_token": "abc",
            "nested": [{"client_secret": "s", "ok": 1}],
            "note": "Authorization: Bearer abc.def",
        }
    )
    assert cleaned["access_token"] == "[redacted]"
    assert cleaned["nested"][0] == {"client_secret": "[redacted]", "ok": 1}
    assert "abc.def" not in cleaned["note"]


@pytest.mark.parametrize(
    "exc, kind",
    [
        (
            redis.exceptions.ResponseError("NOREPLICAS Not enough good replicas to write."),
            TransientError,
        ),
        (
            redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
            TransientError,
        ),
        (redis.exceptions.ConnectionError("Connection refused"), TransientError),
        (redis.exceptions.TimeoutError("Timeout reading from socket"), TransientError),
        (
            redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory"),
            TransientError,
        ),
        (redis.exceptions.ResponseError("WRONGTYPE Operation against a key"), PermanentError),
    ],
)
def test_redis_failures_that_pass_by_themselves_are_transient(
    exc: Exception, kind: type[Exception]
) -> None:
    assert type(classify(exc)) is kind
