"""The HTTP intake: accept orders fast, answer clearly, never do ERP work inline.

The app is built from a configured `Runtime` and assembled from routers: the canonical order API
(`orders`), shop webhooks (`webhooks`), the operator API (`operator`), health and metrics
(`health`). Bad input gets a 4xx whose JSON names the field; Redis down gets 503 so the sender
retries later.
"""

from __future__ import annotations

import redis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError

from core.logging import get_logger
from core.runtime import Runtime
from workers.intake import health, operator, orders, webhooks
from workers.intake.errors import ApiError, error_body

log = get_logger("orderbridge.intake")


def create_app(rt: Runtime) -> FastAPI:
    app = FastAPI(title="orderbridge intake", version="0.1.0")
    app.state.runtime = rt

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(redis.exceptions.RedisError)
    @app.exception_handler(OperationalError)
    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.error("intake.redis_unavailable", error=type(exc).__name__)
        return JSONResponse(error_body("unavailable", "the queue is not reachable; retry later"),
                            status_code=503, headers={"Retry-After": "5"})

    for module in (orders, webhooks, operator, health):
        app.include_router(module.router)
    return app
