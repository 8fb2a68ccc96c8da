"""The HTTP intake: accept orders fast, answer clearly, never do ERP work inline.

An order is checked (token, size, JSON, schema, totals), recorded as a job and enqueued, and the
answer is 202 with the job id; the same order again is 200 with the existing job. Bad input gets
a 4xx whose JSON names the field; Redis down gets 503 so the sender retries later. Operators read
jobs and dead letters, and replay them, with the operator token.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from kombu.exceptions import OperationalError
from pydantic import ValidationError

from schemas.order import Order
from workers import deadletters, runtime, webhooks
from workers.events import apply_event, event_from_canonical
from workers.intake_errors import ApiError, error_body
from workers.logging import get_logger
from workers.metrics import metrics_response
from workers.settings import Settings, get_settings

log = get_logger("orderbridge.intake")
UNION_TAGS = {"product", "text", "shipping"}


def field_name(loc: tuple[Any, ...]) -> str:
    """('lines', 0, 'product', 'quantity') → 'lines.0.quantity' (drop union tags)."""
    parts = [str(p) for i, p in enumerate(loc)
             if not (p in UNION_TAGS and i > 0 and isinstance(loc[i - 1], int))]
    return ".".join(parts) or "body"


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"field": field_name(e["loc"]), "message": e["msg"].removeprefix("Value error, ")}
            for e in exc.errors()[:50]]


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def require_token(request: Request, expected: str | None, what: str) -> None:
    given = bearer(request)
    if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", f"missing or wrong bearer token for {what}")


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "body_too_large", f"body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise ApiError(413, "body_too_large", f"body is larger than {limit} bytes")
    return bytes(body)


def parse_order(raw: bytes) -> Order:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "validation_failed", "the order must be a JSON object",
                       [{"field": "body", "message": "expected an object"}])
    try:
        return Order.model_validate(data)
    except ValidationError as exc:
        details = validation_details(exc)
        raise ApiError(422, "validation_failed",
                       "order is invalid: " + "; ".join(f"{d['field']}: {d['message']}"
                                                        for d in details[:5]), details) from None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="orderbridge intake", version="0.1.0")

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(redis.exceptions.RedisError)
    @app.exception_handler(OperationalError)
    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.error("intake.redis_unavailable", error=type(exc).__name__)
        return JSONResponse(error_body("unavailable", "the queue is not reachable; retry later"),
                            status_code=503, headers={"Retry-After": "5"})

    @app.post("/v1/connections/{name}/orders", status_code=202)
    async def post_order(name: str, request: Request) -> JSONResponse:
        conn = settings.connections.get(name)
        if conn is None:
            raise ApiError(404, "unknown_connection", f"no connection named {name!r}")
        token = conn.api_token.get_secret_value() if conn.api_token else None
        require_token(request, token, f"connection {name}")
        order = parse_order(await read_limited(request, settings.intake.max_body_bytes))
        store = runtime.store()
        # Redis and the broker are blocking clients: keep them off the event loop.
        decision = await run_in_threadpool(apply_event, settings, store, name,
                                           event_from_canonical(order))
        log.info(f"intake.{decision.outcome}", connection=name, job_id=decision.job_id,
                 reference=order.external_id)
        state = decision.outcome
        if decision.outcome == "accepted":
            state = decision.job_state or "queued"
        elif decision.outcome == "exists" and decision.job_id:
            job = await run_in_threadpool(store.load_job, decision.job_id)
            state = job.state if job else "queued"
        return JSONResponse({"job_id": decision.job_id, "state": state,
                             **({"detail": decision.detail} if decision.detail else {})},
                            status_code=decision.status)

    @app.post("/webhooks/shopify/{name}")
    async def shopify_webhook(name: str, request: Request) -> JSONResponse:
        raw = await read_limited(request, settings.intake.max_body_bytes)
        return await run_in_threadpool(webhooks.shopify, settings, name, request, raw)

    @app.post("/webhooks/woocommerce/{name}")
    async def woocommerce_webhook(name: str, request: Request) -> JSONResponse:
        raw = await read_limited(request, settings.intake.max_body_bytes)
        return await run_in_threadpool(webhooks.woocommerce, settings, name, request, raw)

    def operator(request: Request) -> None:
        token = settings.operator_token.get_secret_value() if settings.operator_token else None
        require_token(request, token, "the operator API")

    @app.get("/v1/jobs/{job_id}")
    def get_job(job_id: str, request: Request) -> dict[str, Any]:
        operator(request)
        job = runtime.store().load_job(job_id)
        if job is None:
            raise ApiError(404, "not_found", f"no job {job_id}")
        return job.public_view()

    @app.get("/v1/dead-letters")
    def list_dead_letters(request: Request, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        operator(request)
        items, total = runtime.store().dead_letters(max(0, offset), min(max(1, limit), 1000))
        return {"items": [i.model_dump(mode="json") for i in items], "total": total}

    @app.get("/v1/dead-letters/{letter_id}")
    def show_dead_letter(letter_id: str, request: Request) -> dict[str, Any]:
        operator(request)
        letter = runtime.store().dead_letter(letter_id)
        if letter is None:
            raise ApiError(404, "not_found", f"no dead letter {letter_id}")
        return letter.model_dump(mode="json")

    @app.post("/v1/dead-letters/{letter_id}/replay")
    def replay_dead_letter(letter_id: str, request: Request) -> dict[str, Any]:
        operator(request)
        try:
            letter = deadletters.replay(settings, runtime.store(), letter_id)
        except deadletters.NotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        except deadletters.Busy as exc:
            raise ApiError(409, "busy", str(exc)) from None
        return {"job_id": letter.job_id, "state": "queued", "step": letter.step}

    @app.delete("/v1/dead-letters/{letter_id}")
    def drop_dead_letter(letter_id: str, request: Request) -> dict[str, Any]:
        operator(request)
        try:
            letter = deadletters.drop(runtime.store(), letter_id)
        except deadletters.NotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        return {"dropped": letter.id, "job_id": letter.job_id}

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            runtime.store().ping()
        except redis.exceptions.RedisError:
            return JSONResponse({"status": "unavailable", "redis": False}, status_code=503)
        return JSONResponse({"status": "ok", "redis": True})

    @app.get("/metrics")
    def metrics() -> Response:
        return metrics_response(runtime.store())

    return app
