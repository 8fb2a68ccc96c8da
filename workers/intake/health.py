"""`GET /healthz` (Redis answers?) and `GET /metrics` (Prometheus, read from Redis)."""

from __future__ import annotations

import redis
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from workers.intake.http import runtime_of
from workers.metrics import metrics_response

router = APIRouter()


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    try:
        runtime_of(request).store.ping()
    except redis.exceptions.RedisError:
        return JSONResponse({"status": "unavailable", "redis": False}, status_code=503)
    return JSONResponse({"status": "ok", "redis": True})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return metrics_response(runtime_of(request).store)
