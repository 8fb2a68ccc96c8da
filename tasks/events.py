"""What an order event from a source means for its job, decided at the door without ERP work.

Shop webhooks, reconciliation polling and the canonical API all describe an order's life the same
way: created, paid, cancelled, at some `updated_at`. This module turns one such reading into at
most one action, fast:
- a state older than the newest we have seen for that order is ignored (shops deliver late and
  out of order);
- a new order becomes a job (paid first? then it is created with invoicing on);
- paid, for a connection that invoices on payment, asks the job to invoice (a worker does it);
- cancelled stops the job, or has a worker remove the draft from the ERP (`tasks.lifecycle`);
  a cancellation that arrives before the order leaves a tombstone, so the order never goes out.
Every producer (intake, webhooks, reconciliation, CLI `enqueue`, a Python call) comes through
`apply_event`; a new order becomes a job through `submit_order`, one per connection and external
id, so the exactly-once rule at the door is the same everywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from core import metrics_store
from core.runtime import Runtime
from core.store import TOMBSTONE, new_id
from schemas.dropped import Dropped
from schemas.job import Job, Step
from schemas.order import Order
from tasks.dropped import log_dropped, unmapped

TOMBSTONE_SECONDS = 30 * 86_400


@dataclass(frozen=True)
class OrderEvent:
    order_id: str
    order: Order | None
    updated_at: datetime | None = None
    paid: bool = False
    cancelled: bool = False
    draft: bool = False


@dataclass(frozen=True)
class Decision:
    status: int
    outcome: str  # accepted | exists | ignored | cancelled | invoicing
    job_id: str | None = None
    detail: str | None = None
    job_state: str | None = None  # the job's state, when the door read it (new or existing)
    # What the ERP will not get of the order (the job's warnings), when the door knows them:
    # a new job, or an existing one it read (`with_state`).
    warnings: tuple[Dropped, ...] = ()

    def body(self) -> dict[str, str | None]:
        return {"job_id": self.job_id, "state": self.outcome, "detail": self.detail}


@dataclass(frozen=True)
class Submitted:
    job_id: str
    state: str | None  # an existing job's state only when asked for (`with_state`)
    created: bool
    warnings: tuple[Dropped, ...] = ()  # the job's, when known (as `state`)


def apply_event(
    rt: Runtime, connection: str, event: OrderEvent, with_state: bool = False
) -> Decision:
    """The one door from an order event (webhook, reconciliation, canonical API, CLI) to a job.
    `with_state`: also read an existing job's state into `Decision.job_state` (one more round
    trip, for the canonical API's answer); a new job's state is known without it."""
    store = rt.store
    if event.draft:
        return Decision(200, "ignored", detail="checkout draft")
    if event.updated_at and not store.claim_version(
        connection, event.order_id, event.updated_at.timestamp()
    ):
        return Decision(
            200,
            "ignored",
            store.job_id_for(connection, event.order_id),
            "older than the state we already have",
        )
    if event.cancelled:
        return _cancelled(rt, connection, event.order_id)
    conn = rt.settings.connection(connection)
    invoice_now = event.paid and conn.invoice_on_payment
    state: str | None = None
    warnings: tuple[Dropped, ...] = ()
    # Create it, or learn it exists: one round trip either way (plus the existing job's load
    # when `with_state`).
    if event.order is not None:
        order = (
            event.order.model_copy(update={"send_invoice": True}) if invoice_now else event.order
        )
        submitted = submit_order(rt, connection, order, with_state=with_state and not invoice_now)
        if submitted.created:
            return Decision(
                202,
                "accepted",
                submitted.job_id,
                job_state=submitted.state,
                warnings=submitted.warnings,
            )
        job_id, state, warnings = submitted.job_id, submitted.state, submitted.warnings
        if conn.mode == "live" and store.was_previewed(connection, event.order_id):
            # Previewed while the connection was in preview mode: now it goes out.
            rt.enqueue("order_go_live", job_id)
            return Decision(202, "accepted", job_id, detail="previewed before; now sent")
    else:
        found = store.job_id_for(connection, event.order_id)
        if found is None:
            return Decision(200, "ignored", detail="no order body to create a job from")
        job_id = found
    if invoice_now:
        rt.enqueue("order_paid", job_id)
        return Decision(200, "invoicing", job_id)
    return Decision(200, "exists", job_id, job_state=state, warnings=warnings)


def _cancelled(rt: Runtime, connection: str, order_id: str) -> Decision:
    job_id = rt.store.job_id_for(connection, order_id)
    if job_id is None:
        rt.store.bury(connection, order_id, TOMBSTONE_SECONDS)
        return Decision(200, "cancelled", detail="cancelled before it reached us")
    rt.enqueue("order_cancelled", job_id)
    return Decision(200, "cancelled", job_id)


def submit_order(rt: Runtime, connection: str, order: Order, with_state: bool = False) -> Submitted:
    """Record the job (or find the existing one: one per connection and external id) and
    enqueue its first step if it is new. An existing job's state is loaded only `with_state`."""
    store = rt.store
    conn = rt.settings.connection(connection)
    send = conn.send_invoice if order.send_invoice is None else order.send_invoice
    if order.credit_for:
        send = True  # a credit note is only a credit note once the ERP has booked it
    reference = conn.reference_for(order.external_id, order.number)
    job = Job.new(
        new_id(),
        connection,
        reference,
        order,
        send_invoice=send,
        warnings=unmapped(rt, connection, order, reference),
    )
    # It waits for admission (core.admission), which hands it to the workers; the schedule's
    # wake-up is only a safety net while it waits (the wait set loses nothing).
    due = time.time() + rt.settings.worker.queued_stale_after_seconds
    step = job.current_step or Step.UPSERT_CUSTOMER
    accepted = (metrics_store.accepted_field(connection),)
    # One round trip: the tombstone check, the job, and its place in the wait set.
    job.urgent = rt.is_urgent(job)
    entry = rt.admission.entry(
        connection, str(step), job.reference, job.created_at.timestamp(), job.urgent
    )
    job_id, created = store.create_job(
        job, due, counters=accepted, check_tombstone=True, admit=entry
    )
    if job_id == TOMBSTONE:  # cancelled before it reached us: accepted and finished at once
        job.end("cancelled", "cancelled in the source before it was transferred")
        job_id, created = store.create_job(
            job, due, counters=(*accepted, metrics_store.finished_field(connection, job.state))
        )
        if created:
            store.clear_due(job_id)
            return Submitted(job_id, job.state, True)
    if not created:
        if not with_state:
            return Submitted(job_id, None, False)
        existing = store.load_job(job_id)
        if existing is None:
            return Submitted(job_id, "queued", False)
        return Submitted(job_id, existing.state, False, tuple(existing.warnings))
    log_dropped(job)
    return Submitted(job_id, job.state, True, tuple(job.warnings))


def event_from_canonical(order: Order) -> OrderEvent:
    return OrderEvent(
        order.external_id, order, order.updated_at, bool(order.paid), bool(order.cancelled)
    )
