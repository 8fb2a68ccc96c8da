"""Order events after creation, run by workers: the shop says paid, or cancelled.

Both take the job's lease like a step does, so they never race a running step; if a step holds
it, or the lease is lost before the event is recorded (`LeaseLost`: nothing was written), the
event task tries again a moment later (`Busy`). Paid turns invoicing on (and re-opens a
finished job at `send_invoice`). Cancelled stops a job whose draft does not exist yet; once the
draft exists, the connector removes it where the ERP allows and the job records what happened.

An event never postpones the job: while it holds the lease, a step delivered meanwhile found the
job busy and was dropped, so after the event an unfinished job's current step is enqueued again
(the wake-up the lease set stays near until a worker takes it).
"""

from __future__ import annotations

from connectors.errors import ErpError, classify
from core import metrics_store
from core.logging import get_logger
from core.runtime import Runtime
from core.store import Store
from schemas.job import DraftResult, Job, Step
from tasks.lease import Busy, Lease

log = get_logger("orderbridge.lifecycle")

__all__ = ["Busy", "order_cancelled", "order_go_live", "order_paid"]


def order_paid(rt: Runtime, job_id: str) -> str:
    lease = Lease(rt.store, job_id, rt.settings.worker.stale_after_seconds)
    with lease.holding() as job:
        if job is None or job.state in ("cancelled", "dead", "duplicate", "previewed"):
            _settle(rt.store, job_id, job)
            return "ignored"
        reopened = job.want_invoice()
        lease.save_job(job)
        _settle(rt.store, job_id, job)
    _hand_on(rt, job)
    log.info("event.paid", job_id=job_id, reopened=reopened)
    return "invoicing"


def order_go_live(rt: Runtime, job_id: str) -> str:
    """An order previewed while its connection was in preview mode, seen again now that the
    connection is live: the job runs for real from its first step (once: the job leaves
    `previewed` under the lease, and only then is the order's previewed mark removed)."""
    lease = Lease(rt.store, job_id, rt.settings.worker.stale_after_seconds)
    with lease.holding() as job:
        if job is None:
            return "ignored"
        if job.state != "previewed" or rt.settings.connection(job.connection).mode != "live":
            _settle(rt.store, job_id, job)
            if job.state != "previewed":
                rt.store.unmark_previewed(job.connection, job.external_id)
            return "ignored"
        job.go_live()
        lease.save_job(job)
    rt.store.unmark_previewed(job.connection, job.external_id)
    _hand_on(rt, job)
    log.info("event.go_live", job_id=job_id)
    return "sent"


def order_cancelled(rt: Runtime, job_id: str) -> str:
    lease = Lease(rt.store, job_id, rt.settings.worker.stale_after_seconds)
    with lease.holding() as job:
        if job is None or job.state == "cancelled":
            _settle(rt.store, job_id, job)
            return "ignored"
        order_id = job.erp.get("order_id")
        if not order_id:
            note = "cancelled in the source before a draft was created"
            if job.step(Step.CREATE_DRAFT).read(DraftResult).sending_at:
                note += (
                    f" (a draft may exist if the last attempt's answer was lost: "
                    f"check reference {job.reference})"
                )
            return _end_cancelled(rt.store, lease, job, note)
        try:
            note = rt.connector(job.connection).cancel_order(str(order_id))
        except Exception as exc:  # classified: transient waits, permanent is recorded
            error: ErpError = classify(exc)
            if error.kind != "permanent":
                raise Busy(error.message) from exc
            note = f"the ERP refused to remove the draft: {error.message}"
        job.erp["cancellation"] = note
        return _end_cancelled(rt.store, lease, job, note)


def _settle(store: Store, job_id: str, job: Job | None) -> None:
    """Taking the lease put the job on the schedule; a finished job comes off it again."""
    if job is None or job.is_final:
        store.clear_due(job_id)


def _hand_on(rt: Runtime, job: Job) -> None:
    """The job has a step to run again: it waits for admission like any ready job."""
    if not job.is_final and job.current_step:
        rt.submit(job)


def _end_cancelled(store: Store, lease: Lease, job: Job, note: str) -> str:
    letter = job.dead_letter_id
    job.end("cancelled", note)
    job.dead_letter_id = None
    lease.save_job(
        job,
        due_at=None,
        counters=("jobs_cancelled", metrics_store.finished_field(job.connection, "cancelled")),
    )
    if letter:
        store.remove_dead_letter(letter)
    log.info("event.cancelled", job_id=job.job_id, outcome=note)
    return "cancelled"
