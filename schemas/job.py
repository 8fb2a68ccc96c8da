"""The job record and its step ledger: the durable memory that makes every step idempotent.

A job is one order on its way to one ERP. The ledger (one `StepRecord` per pipeline step) says
what each step already did, so a redelivered task returns at once, a retry after an ambiguous
failure knows it must look before it writes, and a replay resumes at the failed step.
These are pure data and pure transitions; storing them is `workers.store`'s business.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.order import Order

STEPS: tuple[str, ...] = (
    "upsert_customer",
    "upsert_products",
    "check_duplicate",
    "create_draft",
    "send_invoice",
)

JobState = Literal["queued", "running", "done", "duplicate", "dead", "cancelled"]
StepState = Literal["pending", "running", "sending", "waiting", "done", "skipped", "failed"]
FINAL_STATES: frozenset[str] = frozenset({"done", "duplicate", "dead", "cancelled"})


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ErrorInfo(BaseModel):
    kind: Literal["transient", "ambiguous", "permanent"]
    message: str
    erp_status: int | None = None
    erp_response: Any = None
    at: datetime = Field(default_factory=utcnow)


class StepRecord(BaseModel):
    name: str
    state: StepState = "pending"
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    next_attempt_at: datetime | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    last_error: ErrorInfo | None = None


class Job(BaseModel):
    job_id: str
    connection: str
    external_id: str
    reference: str
    send_invoice: bool
    state: JobState = "queued"
    current_step: str | None = STEPS[0]
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    first_failure_at: datetime | None = None
    dead_letter_id: str | None = None
    outcome: str | None = None
    erp: dict[str, Any] = Field(default_factory=dict)
    steps: list[StepRecord] = Field(default_factory=list)
    order: Order | None = None

    @classmethod
    def new(cls, job_id: str, connection: str, reference: str, order: Order,
            send_invoice: bool) -> Job:
        steps = [StepRecord(name=name) for name in STEPS]
        if not send_invoice:
            steps[-1].state = "skipped"
        return cls(job_id=job_id, connection=connection, external_id=order.external_id,
                   reference=reference, send_invoice=send_invoice, order=order, steps=steps)

    def step(self, name: str) -> StepRecord:
        for record in self.steps:
            if record.name == name:
                return record
        raise KeyError(name)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    def next_step_after(self, name: str) -> str | None:
        """The next step that still has work to do, or None when the pipeline is finished."""
        after = STEPS[STEPS.index(name) + 1:]
        return next((n for n in after if self.step(n).state not in ("done", "skipped")), None)

    # --- transitions -------------------------------------------------------------------------
    def start_step(self, name: str) -> StepRecord:
        record = self.step(name)
        record.state = "running"
        record.attempts += 1
        record.started_at = record.started_at or utcnow()
        record.next_attempt_at = None
        self.state = "running"
        self.current_step = name
        self.touch()
        return record

    def finish_step(self, name: str, result: dict[str, Any] | None = None) -> None:
        record = self.step(name)
        record.state = "done"
        record.finished_at = utcnow()
        record.result.update(result or {})
        self.first_failure_at = None
        self.current_step = self.next_step_after(name)
        self.touch()

    def fail_attempt(self, name: str, error: ErrorInfo, retry_at: datetime) -> None:
        record = self.step(name)
        record.state = "waiting"
        record.last_error = error
        record.next_attempt_at = retry_at
        self.first_failure_at = self.first_failure_at or error.at
        self.touch()

    def end(self, state: JobState, outcome: str | None = None) -> None:
        self.state = state
        self.outcome = outcome
        self.finished_at = utcnow()
        if state != "dead":
            self.current_step = None
        self.touch()

    def kill(self, name: str, error: ErrorInfo, dead_letter_id: str) -> None:
        record = self.step(name)
        record.state = "failed"
        record.last_error = error
        self.dead_letter_id = dead_letter_id
        self.current_step = name
        self.end("dead", error.message)

    def requeue_at(self, name: str) -> None:
        """Replay: the failed step and those after it run again; finished steps stay done."""
        record = self.step(name)
        record.state = "pending"
        record.next_attempt_at = None
        self.state = "queued"
        self.current_step = name
        self.dead_letter_id = None
        self.first_failure_at = None
        self.finished_at = None
        self.outcome = None
        self.touch()

    def want_invoice(self) -> bool:
        """The shop reports the order paid: invoice it. True when the job must be enqueued
        again (it had already finished without invoicing)."""
        if self.send_invoice:
            return False
        self.send_invoice = True
        record = self.step("send_invoice")
        if record.state == "skipped":
            record.state = "pending"
        if self.state == "done":
            self.state, self.current_step, self.finished_at = "queued", "send_invoice", None
            self.touch()
            return True
        self.touch()
        return False

    def touch(self) -> None:
        self.updated_at = utcnow()

    def public_view(self) -> dict[str, Any]:
        """What `GET /v1/jobs/{id}` and `orderbridge status` show: no personal data."""
        return self.model_dump(mode="json", exclude={"order"})
