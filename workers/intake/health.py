"""`GET /healthz` (Redis answers?) and `GET /metrics` (Prometheus, read from Redis, so one scrape
of the intake covers every worker process; see `workers.metrics`)."""

from __future__ import annotations

import redis
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from workers.intake.answers import Health
from workers.intake.errors import error_responses
from workers.intake.http import runtime_of
from workers.metrics import METRICS_MEDIA_TYPE, metrics_response

router = APIRouter()


@router.get(
    "/healthz",
    response_model=None,
    responses={
        200: {"model": Health, "description": "Redis answers."},
        503: {"model": Health, "description": "Redis does not answer."},
    },
)
def healthz(request: Request) -> JSONResponse:
    try:
        runtime_of(request).store.ping()
    except redis.exceptions.RedisError:
        return JSONResponse({"status": "unavailable", "redis": False}, status_code=503)
    return JSONResponse({"status": "ok", "redis": True})


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format 0.0.4.",
            "content": {METRICS_MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        **error_responses(503),
    },
)
def metrics(request: Request) -> Response:
    rt = runtime_of(request)
    return metrics_response(
        rt.store,
        rt.settings.connections,
        request.app.state.metrics_cache,
        rates=rt.rates(),
        queues_in_store=rt.settings.broker_is_store,
    )
