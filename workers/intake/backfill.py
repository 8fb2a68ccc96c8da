"""The operator API of backfills (operator token): start one, and see how it goes.

`POST /v1/connections/{name}/backfills` `{"since", "until"?, "dry_run"?, "fresh"?}` starts the
backfill in a thread of this intake process (`tasks.backfill`) and answers 202 with its progress;
200 with the summary when the same arguments' backfill is already done; 409 while it runs (here
or in another process). A backfill whose process stopped (`interrupted`, `failed`) continues
where it stopped when it is posted again. `GET .../backfills` lists a connection's backfills,
`GET .../backfills/{id}` shows one (`id` from the answer: period and mode).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from core.runtime import Runtime
from schemas.backfill import BackfillList, BackfillProgress, BackfillRequest
from tasks.backfill import BackfillArgs, Busy, CannotBackfill, begin, start_in_background
from tasks.backfill_progress import Progress, backfills, valid_run_id
from workers.intake.errors import ApiError, error_responses, invalid_message, validation_details
from workers.intake.http import parse_json, read_limited, require_operator
from workers.intake.operator import OPERATOR_AUTH

router = APIRouter()
STARTED: dict[int | str, dict[str, Any]] = {
    202: {"model": BackfillProgress, "description": "Started (or continued where it stopped)."},
    200: {"model": BackfillProgress, "description": "Done before: its summary."},
}
BODY: dict[str, Any] = {
    **OPERATOR_AUTH,
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": BackfillRequest.model_json_schema()}},
    },
}


def _connection(rt: Runtime, name: str) -> None:
    if name not in rt.settings.connections:
        raise ApiError(404, "unknown_connection", f"no connection named {name!r}")


@router.post(
    "/v1/connections/{name}/backfills",
    summary="Backfill: submit the shop's orders created in a period (resumable)",
    response_model=None,
    responses={**STARTED, **error_responses(400, 404, 409, 413, 422)},
    openapi_extra=BODY,
)
async def post_backfill(name: str, request: Request) -> JSONResponse:
    rt = require_operator(request)
    _connection(rt, name)
    try:
        wanted = BackfillRequest.model_validate(parse_json(await read_limited(request)))
    except ValidationError as exc:
        details = validation_details(exc)
        raise ApiError(
            422, "validation_failed", invalid_message("request", details), details
        ) from None
    assert wanted.since.tzinfo is not None
    args = BackfillArgs(name, wanted.since, wanted.until, wanted.dry_run)
    try:
        run = await run_in_threadpool(begin, rt, args, wanted.fresh)
    except CannotBackfill as exc:
        raise ApiError(422, "cannot_backfill", str(exc)) from None
    except Busy as exc:
        raise ApiError(409, "busy", str(exc)) from None
    if run.finished:
        run.progress.drop_lease(run.token)
        status = 200
    else:
        start_in_background(run)
        status = 202
    view = run.progress.view()
    assert view is not None
    return JSONResponse(view.model_dump(mode="json"), status_code=status)


@router.get(
    "/v1/connections/{name}/backfills",
    response_model=None,
    responses={200: {"model": BackfillList}, **error_responses(404)},
    openapi_extra=OPERATOR_AUTH,
)
def list_backfills(name: str, request: Request) -> dict[str, Any]:
    rt = require_operator(request)
    _connection(rt, name)
    views = [p.view() for p in backfills(rt.store, name)]
    return {"items": [v.model_dump(mode="json") for v in views if v is not None]}


@router.get(
    "/v1/connections/{name}/backfills/{backfill_id}",
    response_model=None,
    responses={200: {"model": BackfillProgress}, **error_responses(404)},
    openapi_extra=OPERATOR_AUTH,
)
def get_backfill(name: str, backfill_id: str, request: Request) -> dict[str, Any]:
    rt = require_operator(request)
    _connection(rt, name)
    view = Progress(rt.store, name, backfill_id).view() if valid_run_id(backfill_id) else None
    if view is None:
        raise ApiError(404, "not_found", f"no backfill {backfill_id[:80]!r} of {name}")
    return view.model_dump(mode="json")
