"""The job record and its step ledger: the durable memory that makes every step idempotent.

A job is one order on its way to one ERP. The ledger (one `StepRecord` per pipeline step) says
what each step already did, so a redelivered task returns at once, a retry after an ambiguous
failure knows it must look before it writes, and a replay resumes at the failed step.
These are pure data and pure transitions; storing them is `core.store`'s business.
The steps are listed once, here (`Step`); what each step records is a small model below, read
back with `StepRecord.read(Model)` instead of dict keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.dropped import Dropped
from schemas.order import Order


class Step(StrEnum):
    """The pipeline's steps, in order. The values are the task and ledger names."""

    UPSERT_CUSTOMER = "upsert_customer"
    UPSERT_PRODUCTS = "upsert_products"
    CHECK_DUPLICATE = "check_duplicate"
    CREATE_DRAFT = "create_draft"
    SEND_INVOICE = "send_invoice"


STEPS: tuple[Step, ...] = tuple(Step)


class StepResult(BaseModel):
    """What a step records in its ledger entry (kept as JSON in the job)."""

    model_config = ConfigDict(extra="allow")


class CustomerResult(StepResult):
    customer_id: str | None = None
    customer_key: str | None = None


class ProductsResult(StepResult):
    products: dict[str, str] = Field(default_factory=dict)
    created_or_checked: int = 0


class DuplicateResult(StepResult):
    found: bool = False
    order_id: str | None = None


class DraftResult(StepResult):
    order_id: str | None = None
    order_number: str | None = None
    recovered: bool = False
    existed: bool = False
    sending_at: datetime | None = None
    refreshed_customer: bool = False
    refreshed_product: bool = False


class InvoiceResult(StepResult):
    invoice_number: str | None = None
    requested_at: datetime | None = None


R = TypeVar("R", bound=StepResult)

JobState = Literal["queued", "running", "done", "duplicate", "dead", "cancelled", "previewed"]
StepState = Literal["pending", "running", "sending", "waiting", "done", "skipped", "failed"]
# `previewed`: final while the connection is in preview mode; an event after it goes live
# sends the order (`Job.go_live`).
FINAL_STATES: frozenset[str] = frozenset({"done", "duplicate", "dead", "cancelled", "previewed"})


def utcnow() -> datetime:
    return datetime.now(UTC)


class ErrorInfo(BaseModel):
    kind: Literal["transient", "ambiguous", "permanent"]
    message: str
    erp_status: int | None = None
    erp_response: Any = None
    at: datetime = Field(default_factory=utcnow)


class StepRecord(BaseModel):
    name: Step
    state: StepState = "pending"
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    next_attempt_at: datetime | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    last_error: ErrorInfo | None = None

    def read(self, model: type[R]) -> R:
        """This step's result as its model."""
        return model.model_validate(self.result)

    def record(self, result: StepResult) -> None:
        """Merge `result` into the ledger entry (fields left unset are not written)."""
        self.result.update(result.model_dump(mode="json", exclude_unset=True))


class PublicJob(BaseModel):
    """The job as its public view shows it (`GET /v1/jobs/{id}`, `orderbridge status`):
    everything but the order, which holds personal data. `Job` adds the order."""

    job_id: str
    connection: str
    external_id: str
    reference: str
    send_invoice: bool
    urgent: bool = False  # goes before its connection's backlog (core.admission)
    state: JobState = "queued"
    current_step: Step | None = Step.UPSERT_CUSTOMER
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    first_failure_at: datetime | None = None
    dead_letter_id: str | None = None
    outcome: str | None = None
    erp: dict[str, Any] = Field(default_factory=dict)
    steps: list[StepRecord] = Field(default_factory=list)
    # Fields of the order the ERP does not get, found when the order was accepted (jobs
    # stored before warnings existed load with none).
    warnings: list[Dropped] = Field(
        default_factory=list,
        description="fields of the order the ERP does not get (or only in part), and why",
    )
    preview: dict[str, Any] | None = Field(
        None,
        description="a connection in preview mode: what a real run would have sent "
        "(`schemas.preview.Preview`: the request bodies, the refusals, the amounts)",
    )


class Job(PublicJob):
    order: Order | None = None

    @classmethod
    def new(
        cls,
        job_id: str,
        connection: str,
        reference: str,
        order: Order,
        send_invoice: bool,
        warnings: list[Dropped] | None = None,
    ) -> Job:
        steps = [StepRecord(name=name) for name in STEPS]
        if not send_invoice:
            steps[-1].state = "skipped"
        return cls(
            job_id=job_id,
            connection=connection,
            external_id=order.external_id,
            reference=reference,
            send_invoice=send_invoice,
            order=order,
            steps=steps,
            urgent=bool(order.urgent),
            warnings=warnings or [],
        )

    def step(self, name: Step) -> StepRecord:
        for record in self.steps:
            if record.name == name:
                return record
        raise KeyError(name)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    def next_step_after(self, name: Step) -> Step | None:
        """The next step that still has work to do, or None when the pipeline is finished."""
        after = STEPS[STEPS.index(name) + 1 :]
        return next((n for n in after if self.step(n).state not in ("done", "skipped")), None)

    # --- transitions -------------------------------------------------------------------------
    def start_step(self, name: Step) -> StepRecord:
        record = self.step(name)
        record.state = "running"
        record.attempts += 1
        record.started_at = record.started_at or utcnow()
        record.next_attempt_at = None
        self.state = "running"
        self.current_step = name
        self.touch()
        return record

    def finish_step(self, name: Step, result: StepResult | None = None) -> None:
        record = self.step(name)
        record.state = "done"
        record.finished_at = utcnow()
        if result is not None:
            record.record(result)
        self.first_failure_at = None
        self.current_step = self.next_step_after(name)
        self.touch()

    def fail_attempt(self, name: Step, error: ErrorInfo, retry_at: datetime) -> None:
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

    def kill(self, name: Step, error: ErrorInfo, dead_letter_id: str) -> None:
        record = self.step(name)
        record.state = "failed"
        record.last_error = error
        self.dead_letter_id = dead_letter_id
        self.current_step = name
        self.end("dead", error.message)

    def requeue_at(self, name: Step) -> None:
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

    def go_live(self) -> None:
        """A previewed job (its connection was in preview mode) runs for real from the start."""
        for record in self.steps:
            if record.state != "skipped":
                record.state, record.attempts, record.result = "pending", 0, {}
                record.started_at = record.finished_at = record.next_attempt_at = None
                record.last_error = None
        self.state, self.current_step = "queued", STEPS[0]
        self.finished_at = self.first_failure_at = None
        self.outcome = None
        self.touch()

    def want_invoice(self) -> bool:
        """The shop reports the order paid: invoice it. True when the job must be enqueued
        again (it had already finished without invoicing)."""
        if self.send_invoice:
            return False
        self.send_invoice = True
        record = self.step(Step.SEND_INVOICE)
        if record.state == "skipped":
            record.state = "pending"
        if self.state == "done":
            self.state, self.current_step, self.finished_at = "queued", Step.SEND_INVOICE, None
            self.touch()
            return True
        self.touch()
        return False

    def touch(self) -> None:
        self.updated_at = utcnow()

    def public_view(self) -> dict[str, Any]:
        """What `GET /v1/jobs/{id}` and `orderbridge status` show (`PublicJob`): no personal
        data."""
        return self.model_dump(mode="json", exclude={"order"})
