"""The HTTP intake: accept orders fast, answer clearly, never do ERP work inline.

The app is built from a configured `Runtime` and assembled from routers: the canonical order API
(`orders`), shop webhooks (`webhooks`), the operator API (`operator`), health and metrics
(`health`). Bad input gets a 4xx whose JSON names the field; Redis down gets 503 so the sender
retries later, and so does an order no Redis replica confirmed (`core.replicas`). Every error,
FastAPI's own included (a bad query parameter, an unknown path), has the one shape published in
`/openapi.json` (`workers.intake.errors.ErrorBody`).
"""

from __future__ import annotations

from types import ModuleType

import redis
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from kombu.exceptions import OperationalError
from starlette.exceptions import HTTPException

from core.logging import get_logger
from core.metrics_store import FactCache
from core.replicas import NotReplicated
from core.runtime import Runtime
from workers.intake import backfill, health, operator, orders, preview, status, webhooks
from workers.intake.errors import (
    ApiError,
    error_body,
    error_details,
    error_responses,
    invalid_message,
)
from workers.intake.openapi import publishing

log = get_logger("orderbridge.intake")

DESCRIPTION = (
    "Orders in (`POST /v1/connections/{name}/orders`, shop webhooks), jobs and dead "
    'letters out. Errors are `{"error": {"code", "message", "details"}}`.'
)
# The error statuses every route of a router can answer, published in /openapi.json; each route
# adds its own (`responses=`), so a status is listed only where it can happen.
ROUTER_ERRORS: list[tuple[ModuleType, tuple[int, ...]]] = [
    (orders, ()),  # its route lists its own
    (webhooks, (400, 401, 404, 413, 422, 503)),
    (operator, (401, 503)),  # the operator token; Redis
    (preview, (401,)),  # the operator token; its route lists the rest
    (backfill, (401, 503)),  # the operator token; Redis
    (health, ()),
    (status, ()),  # the status page (HTML, not in the schema)
]


def create_app(rt: Runtime) -> FastAPI:
    app = FastAPI(title="orderbridge intake", version="0.1.0", description=DESCRIPTION)
    app.state.runtime = rt
    app.state.metrics_cache = FactCache()  # one per app: each scrape reads only new records

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(redis.exceptions.RedisError)
    @app.exception_handler(OperationalError)
    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.error("intake.redis_unavailable", error=type(exc).__name__)
        return JSONResponse(
            error_body("unavailable", "the queue is not reachable; retry later"),
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(NotReplicated)
    async def _unconfirmed(_: Request, exc: Exception) -> JSONResponse:
        # The order may be on the master, but an answer now could promise what a failover
        # loses: the sender's retry is answered as a repeat (confirmed then) or creates it anew.
        log.error("intake.unreplicated", error=str(exc))
        return JSONResponse(
            error_body("unavailable", "the order could not be stored durably yet; retry later"),
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(RequestValidationError)
    async def _bad_parameter(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = error_details(exc.errors())
        return JSONResponse(
            error_body("validation_failed", invalid_message("request", details), details),
            status_code=422,
        )

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code < 400:
            return await http_exception_handler(request, exc)
        code = {404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, f"http_{exc.status_code}"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    for module, statuses in ROUTER_ERRORS:
        app.include_router(module.router, responses=error_responses(*statuses))
    app.openapi = publishing(app, orders.PUBLISHED_MODELS)  # type: ignore[method-assign]
    return app
