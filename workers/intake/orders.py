"""`POST /v1/connections/{name}/orders`: the canonical order API.

An order is checked (token, size, JSON, schema, totals), recorded as a job and enqueued, and the
answer is 202 with the job id; the same order again is 200 with the existing job. Bad input gets
a 4xx whose JSON names the field. Never any ERP work inline.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from core.logging import get_logger
from schemas.order import Order
from tasks.events import apply_event, event_from_canonical
from workers.intake.errors import ApiError, validation_details
from workers.intake.http import read_limited, require_token, runtime_of

log = get_logger("orderbridge.intake")
router = APIRouter()


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


@router.post("/v1/connections/{name}/orders", status_code=202)
async def post_order(name: str, request: Request) -> JSONResponse:
    rt = runtime_of(request)
    conn = rt.settings.connections.get(name)
    if conn is None:
        raise ApiError(404, "unknown_connection", f"no connection named {name!r}")
    token = conn.api_token.get_secret_value() if conn.api_token else None
    require_token(request, token, f"connection {name}")
    order = parse_order(await read_limited(request))
    refused = rt.connector(name).check_order(order)
    if refused:
        raise ApiError(422, "validation_failed",
                       "order is invalid: " + "; ".join(f"{f}: {m}" for f, m in refused[:5]),
                       [{"field": f, "message": m} for f, m in refused])
    # Redis and the broker are blocking clients: keep them off the event loop.
    decision = await run_in_threadpool(apply_event, rt, name, event_from_canonical(order))
    log.info(f"intake.{decision.outcome}", connection=name, job_id=decision.job_id,
             reference=order.external_id)
    state = decision.outcome
    if decision.outcome == "accepted":
        state = decision.job_state or "queued"
    elif decision.outcome == "exists" and decision.job_id:
        job = await run_in_threadpool(rt.store.load_job, decision.job_id)
        state = job.state if job else "queued"
    return JSONResponse({"job_id": decision.job_id, "state": state,
                         **({"detail": decision.detail} if decision.detail else {})},
                        status_code=decision.status)
