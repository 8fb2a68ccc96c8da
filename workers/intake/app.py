"""The HTTP intake: accept orders fast, answer clearly, never do ERP work inline.

The app is built from a configured `Runtime` and assembled from routers: the canonical order API
(`orders`), shop webhooks (`webhooks`), the operator API (`operator`), health and metrics
(`health`). Bad input gets a 4xx whose JSON names the field; Redis down gets 503 so the sender
retries later. Every error, FastAPI's own included (a bad query parameter, an unknown path), has
the one shape published in `/openapi.json` (`workers.intake.errors.ErrorBody`).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from kombu.exceptions import OperationalError
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from core.logging import get_logger
from core.metrics_store import FactCache
from core.runtime import Runtime
from workers.intake import health, operator, orders, status, webhooks
from workers.intake.errors import (
    ApiError,
    error_body,
    error_details,
    error_responses,
    invalid_message,
)

log = get_logger("orderbridge.intake")

DESCRIPTION = (
    "Orders in (`POST /v1/connections/{name}/orders`, shop webhooks), jobs and dead "
    'letters out. Errors are `{"error": {"code", "message", "details"}}`.'
)
# The error statuses every route of a router can answer, published in /openapi.json.
ROUTER_ERRORS: list[tuple[ModuleType, tuple[int, ...]]] = [
    (orders, ()),  # its route lists its own
    (webhooks, (400, 401, 404, 413, 422, 503)),
    (operator, (401, 404, 422, 503)),  # and per route: replay 409, invoice lines 502
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


def publishing(app: FastAPI, models: dict[str, type[BaseModel]]) -> Callable[[], dict[str, Any]]:
    """FastAPI's `openapi()` plus the schemas of models it does not see (bodies parsed by hand),
    under `#/components/schemas/<name>`, built once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, model in models.items():
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for part, definition in {**schema.pop("$defs", {}), name: schema}.items():
                    if schemas.get(part, definition) != definition:
                        raise RuntimeError(
                            f"two different schemas named {part} in the OpenAPI document"
                        )
                    schemas[part] = definition
            app.openapi_schema = document
        return app.openapi_schema

    return openapi
