"""Accepting an order for a connection: one job per (connection, external id), enqueued once.

Every producer (HTTP intake, CLI `enqueue`, a Python call) goes through `submit_order`, so the
exactly-once rule at the door is the same everywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from schemas.job import Job
from schemas.order import Order
from workers.queue import enqueue
from workers.settings import Settings
from workers.store import Store, new_id


@dataclass(frozen=True)
class Submitted:
    job_id: str
    state: str
    created: bool


def submit_order(settings: Settings, store: Store, connection: str, order: Order) -> Submitted:
    """Record the job (or find the existing one) and enqueue its first step if it is new."""
    conn = settings.connection(connection)
    send = conn.send_invoice if order.send_invoice is None else order.send_invoice
    job = Job.new(new_id(), connection, conn.reference_for(order.external_id, order.number),
                  order, send_invoice=send)
    if store.cancelled_before_create(connection, order.external_id):
        job.end("cancelled", "cancelled in the source before it was transferred")
    # If the enqueue below is lost, the sweeper finds the job in the due-schedule later.
    due = time.time() + settings.worker.queued_stale_after_seconds
    job_id, created = store.create_job(job, due)
    if not created:
        existing = store.load_job(job_id)
        return Submitted(job_id, existing.state if existing else "queued", False)
    if job.is_final:
        store.clear_due(job_id)
        return Submitted(job_id, job.state, True)
    enqueue(job.current_step or "upsert_customer", job_id)
    return Submitted(job_id, job.state, True)
