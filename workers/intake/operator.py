"""The operator API: jobs, invoices and dead letters (show, replay, drop), behind the operator
token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field

from connectors.base import InvoiceLines
from connectors.errors import InvalidId, classify
from schemas.invoice_event import InvoiceEvent
from schemas.job import PublicJob
from tasks import deadletters
from workers.intake.errors import ApiError, error_responses
from workers.intake.http import require_operator

router = APIRouter()


class JobAnswer(PublicJob):
    """A job without its order (personal data), with the invoice events seen for it."""

    invoice_events: list[InvoiceEvent] = Field(default_factory=list)


@router.get(
    "/v1/jobs/{job_id}",
    response_model=None,  # answered as `public_view` builds it; the model documents it
    responses={200: {"model": JobAnswer, "description": "The job, its steps and warnings."}},
)
def get_job(job_id: str, request: Request) -> dict[str, Any]:
    store = require_operator(request).store
    job = store.load_job(job_id)
    if job is None:
        raise ApiError(404, "not_found", f"no job {job_id}")
    view = job.public_view()
    view["invoice_events"] = store.job_events(job_id)
    return view


@router.get("/v1/connections/{name}/invoices")
def list_invoices(name: str, request: Request, limit: int = 50) -> dict[str, Any]:
    """The invoices and credit notes of our orders the invoice watch has seen, newest first."""
    rt = require_operator(request)
    if name not in rt.settings.connections:
        raise ApiError(404, "not_found", f"no connection {name}")
    conn = rt.settings.connections[name]
    items = rt.store.recent_invoices(name, min(max(1, limit), 1000))
    return {
        "connection": name,
        "watched": conn.events is not None,
        "cursor": rt.store.invoice_cursor(name),
        "items": items,
    }


@router.get(
    "/v1/connections/{name}/invoices/{invoice_id}/lines", responses=error_responses(404, 502, 503)
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


@router.get("/v1/jobs/{job_id}/invoice.pdf")
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


@router.get("/v1/dead-letters")
def list_dead_letters(request: Request, offset: int = 0, limit: int = 100) -> dict[str, Any]:
    store = require_operator(request).store
    items, total = store.dead_letters(max(0, offset), min(max(1, limit), 1000))
    return {"items": [i.model_dump(mode="json") for i in items], "total": total}


@router.get("/v1/dead-letters/{letter_id}")
def show_dead_letter(letter_id: str, request: Request) -> dict[str, Any]:
    letter = require_operator(request).store.dead_letter(letter_id)
    if letter is None:
        raise ApiError(404, "not_found", f"no dead letter {letter_id}")
    return letter.model_dump(mode="json")


@router.post("/v1/dead-letters/{letter_id}/replay", responses=error_responses(409))
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


@router.delete("/v1/dead-letters/{letter_id}")
def drop_dead_letter(letter_id: str, request: Request) -> dict[str, Any]:
    store = require_operator(request).store
    try:
        letter = deadletters.drop(store, letter_id)
    except deadletters.NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return {"dropped": letter.id, "job_id": letter.job_id}
