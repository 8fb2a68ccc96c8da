"""The intake's success answers as models, so `/openapi.json` says what each 2xx body holds.

The routes build their bodies as plain dicts (the store hands them over as JSON already); these
models only describe them, and the schemathesis test checks every answer against them. Models
whose content belongs to an ERP or a later feature (`erp`, invoice rows) allow more fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.dead_letter import DeadLetter
from schemas.dropped import Dropped
from schemas.invoice_event import InvoiceEvent
from schemas.job import PublicJob, Step


class OrderAnswer(BaseModel):
    """An order or a shop event taken in: a new job (202), or what became of a repeat (200)."""

    job_id: str | None = Field(
        default=None, description="for `GET /v1/jobs/{id}` and `orderbridge status`"
    )
    state: str = Field(
        description="the job's state, or what the event did: `accepted`, `exists`, `ignored`, "
        "`cancelled`, `invoicing`, `duplicate`, `ping`",
        examples=["queued"],
    )
    detail: str | None = None
    warnings: list[Dropped] = Field(
        default_factory=list,
        description="fields of the order the ERP does not get (or only in part), and why; "
        "the same as the job's `warnings`",
    )


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    redis: bool


class JobAnswer(PublicJob):
    """A job without its order (personal data), with the invoice events seen for it."""

    invoice_events: list[InvoiceEvent] = Field(default_factory=list)


class InvoiceList(BaseModel):
    connection: str
    watched: bool = Field(description="the connection has an invoice watch configured")
    cursor: dict[str, str]
    items: list[dict[str, Any]]


class InvoiceLines(BaseModel):
    connection: str
    invoice_id: str
    lines: list[dict[str, Any]] = Field(description="in the ERP's own shape")


class DeadLetterPage(BaseModel):
    items: list[DeadLetter]
    total: int


class Replayed(BaseModel):
    """A replayed job is queued again at its failed `step`; an undelivered event is sent
    again (`redelivering`)."""

    job_id: str
    state: Literal["queued", "redelivering"]
    step: Step | None = None
    event_id: str | None = None


class DeadLetterDropped(BaseModel):
    dropped: str
    job_id: str
