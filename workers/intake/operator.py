"""The operator API: jobs, invoices and dead letters (show, replay, drop), behind the operator
token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from connectors.base import InvoiceLines
from connectors.errors import InvalidId, classify
from schemas.dead_letter import DeadLetter
from tasks import deadletters
from workers.intake import answers
from workers.intake.errors import ApiError, error_responses
from workers.intake.http import require_operator

router = APIRouter()
# In /openapi.json: the operator token as a bearer token (`components.securitySchemes`).
OPERATOR_AUTH: dict[str, Any] = {"security": [{"operatorToken": []}]}
LIMIT_MAX = 1000
OFFSET_MAX = 2**53  # within what Redis takes as a range index, so no input reaches it broken
PDF: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The invoice as the ERP made it.",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get(
    "/v1/jobs/{job_id}",
    response_model=None,
    responses={200: {"model": answers.JobAnswer}, **error_responses(404)},
    openapi_extra=OPERATOR_AUTH,
)
def get_job(job_id: str, request: Request) -> dict[str, Any]:
    store = require_operator(request).store
    job = store.load_job(job_id)
    if job is None:
        raise ApiError(404, "not_found", f"no job {job_id}")
    view = job.public_view()
    view["invoice_events"] = store.job_events(job_id)
    return view


@router.get(
    "/v1/connections/{name}/invoices",
    response_model=None,
    responses={200: {"model": answers.InvoiceList}, **error_responses(404, 422)},
    openapi_extra=OPERATOR_AUTH,
)
def list_invoices(
    name: str, request: Request, limit: int = Query(50, ge=1, le=LIMIT_MAX)
) -> dict[str, Any]:
    """The invoices and credit notes of our orders the invoice watch has seen, newest first."""
    rt = require_operator(request)
    if name not in rt.settings.connections:
        raise ApiError(404, "not_found", f"no connection {name}")
    conn = rt.settings.connections[name]
    items = rt.store.recent_invoices(name, limit)
    return {
        "connection": name,
        "watched": conn.events is not None,
        "cursor": rt.store.invoice_cursor(name),
        "items": items,
    }


@router.get(
    "/v1/connections/{name}/invoices/{invoice_id}/lines",
    response_model=None,
    responses={200: {"model": answers.InvoiceLines}, **error_responses(404, 502)},
    openapi_extra=OPERATOR_AUTH,
)
def invoice_lines(name: str, invoice_id: str, request: Request) -> dict[str, Any]:
    """One invoice's lines, read from the ERP now (the watch never reads them)."""
    rt = require_operator(request)
    if name not in rt.settings.connections:
        raise ApiError(404, "not_found", f"no connection {name}")
    connector = rt.connector(name)
    if not isinstance(connector, InvoiceLines):
        raise ApiError(
            404,
            "not_supported",
            f"the {rt.settings.connections[name].erp} connector cannot read invoice lines",
        )
    try:
        lines = connector.invoice_lines(invoice_id)
    except Exception as exc:  # every failure is classified: none answers 500
        raise erp_failure(exc, f"no invoice {invoice_id[:80]!r} at the ERP") from None
    return {"connection": name, "invoice_id": invoice_id, "lines": lines}


def erp_failure(exc: Exception, not_found: str) -> ApiError:
    """An ERP call's failure as our answer: an id that names nothing, or the ERP's own 404, is
    our 404; an ERP that is down or busy our 503; any other refusal our 502."""
    error = classify(exc)
    if isinstance(error, InvalidId) or error.erp_status == 404:
        return ApiError(404, "not_found", not_found)
    if error.kind == "transient":
        return ApiError(503, "erp_unavailable", error.message)
    return ApiError(502, "erp_error", error.message)


@router.get(
    "/v1/jobs/{job_id}/invoice.pdf",
    response_class=Response,
    responses={**PDF, **error_responses(404)},
    openapi_extra=OPERATOR_AUTH,
)
def get_invoice_pdf(job_id: str, request: Request) -> Response:
    """The invoice PDF the ERP handed back (Duett's direct invoicing), while it is kept."""
    store = require_operator(request).store
    job = store.load_job(job_id)
    if job is None:
        raise ApiError(404, "not_found", f"no job {job_id}")
    pdf = store.document(job_id)
    if pdf is None:
        number = job.erp.get("invoice_number")
        reason = (
            "the order is not invoiced"
            if not number
            else f"invoice {number} exists in the ERP, but no PDF was handed back to us (the "
            f"answer was lost, the ERP does not return one, or it was removed after the "
            f"retention period): get it from the ERP"
        )
        raise ApiError(404, "no_invoice_pdf", f"job {job_id}: {reason}")
    number = job.erp.get("invoice_number") or job_id
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="invoice-{number}.pdf"'},
    )


@router.get(
    "/v1/dead-letters",
    response_model=None,
    responses={200: {"model": answers.DeadLetterPage}, **error_responses(422)},
    openapi_extra=OPERATOR_AUTH,
)
def list_dead_letters(
    request: Request,
    offset: int = Query(0, ge=0, le=OFFSET_MAX),
    limit: int = Query(100, ge=1, le=LIMIT_MAX),
) -> dict[str, Any]:
    store = require_operator(request).store
    items, total = store.dead_letters(offset, limit)
    return {"items": [i.model_dump(mode="json") for i in items], "total": total}


@router.get(
    "/v1/dead-letters/{letter_id}",
    response_model=None,
    responses={200: {"model": DeadLetter}, **error_responses(404)},
    openapi_extra=OPERATOR_AUTH,
)
def show_dead_letter(letter_id: str, request: Request) -> dict[str, Any]:
    letter = require_operator(request).store.dead_letter(letter_id)
    if letter is None:
        raise ApiError(404, "not_found", f"no dead letter {letter_id}")
    return letter.model_dump(mode="json")


@router.post(
    "/v1/dead-letters/{letter_id}/replay",
    response_model=None,
    responses={200: {"model": answers.Replayed}, **error_responses(404, 409)},
    openapi_extra=OPERATOR_AUTH,
)
def replay_dead_letter(letter_id: str, request: Request) -> dict[str, Any]:
    rt = require_operator(request)
    try:
        letter = deadletters.replay(rt, letter_id)
    except deadletters.NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except deadletters.Busy as exc:
        raise ApiError(409, "busy", str(exc)) from None
    if letter.kind == "delivery":
        return {
            "job_id": letter.job_id,
            "state": "redelivering",
            "event_id": (letter.event or {}).get("id"),
        }
    return {"job_id": letter.job_id, "state": "queued", "step": letter.step}


@router.delete(
    "/v1/dead-letters/{letter_id}",
    response_model=None,
    responses={200: {"model": answers.DeadLetterDropped}, **error_responses(404)},
    openapi_extra=OPERATOR_AUTH,
)
def drop_dead_letter(letter_id: str, request: Request) -> dict[str, Any]:
    store = require_operator(request).store
    try:
        letter = deadletters.drop(store, letter_id)
    except deadletters.NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return {"dropped": letter.id, "job_id": letter.job_id}
