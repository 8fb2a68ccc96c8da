"""Order events after creation, run by workers: the shop says paid, or cancelled.

Both take the job's lease like a step does, so they never race a running step; if a step holds
it, the event task tries again a moment later. Paid turns invoicing on (and re-opens a finished
job at `send_invoice`). Cancelled stops a job whose draft does not exist yet; once the draft
exists, the connector removes it where the ERP allows and the job records what happened.
"""

from __future__ import annotations

import time

from connectors.errors import ErpError, classify
from schemas.job import Job
from tasks.runner import Lease
from workers import runtime
from workers.logging import get_logger
from workers.queue import enqueue
from workers.settings import get_settings
from workers.store import Store

log = get_logger("orderbridge.lifecycle")


class Busy(Exception):
    """A step holds the job; try again shortly."""


def order_paid(job_id: str) -> str:
    store = runtime.store()
    with _leased(store, job_id) as job:
        if job is None or job.state in ("cancelled", "dead", "duplicate"):
            return "ignored"
        reopen = job.want_invoice()
        due = time.time() + get_settings().worker.queued_stale_after_seconds
        store.save_job(job, due_at=due if (reopen or not job.is_final) else None)
    if reopen:
        enqueue("send_invoice", job_id)
    log.info("event.paid", job_id=job_id, reopened=reopen)
    return "invoicing"


def order_cancelled(job_id: str) -> str:
    store = runtime.store()
    with _leased(store, job_id) as job:
        if job is None or job.state == "cancelled":
            return "ignored"
        draft = job.step("create_draft")
        order_id = job.erp.get("order_id")
        if not order_id:
            note = "cancelled in the source before a draft was created"
            if draft.result.get("sending_at"):
                note += f" (a draft may exist if the last attempt's answer was lost: " \
                        f"check reference {job.reference})"
            return _end_cancelled(store, job, note)
        try:
            note = runtime.connector(job.connection).cancel_order(str(order_id))
        except Exception as exc:  # classified: transient waits, permanent is recorded
            error: ErpError = classify(exc)
            if error.kind != "permanent":
                raise Busy(error.message) from exc
            note = f"the ERP refused to remove the draft: {error.message}"
        job.erp["cancellation"] = note
        return _end_cancelled(store, job, note)


def _end_cancelled(store: Store, job: Job, note: str) -> str:
    letter = job.dead_letter_id
    job.end("cancelled", note)
    job.dead_letter_id = None
    store.save_job(job, due_at=None, counters=("jobs_cancelled",))
    if letter:
        store.remove_dead_letter(letter)
    log.info("event.cancelled", job_id=job.job_id, outcome=note)
    return "cancelled"


class _leased:
    """Hold the job's lease for an event; raise Busy when a step has it."""

    def __init__(self, store: Store, job_id: str) -> None:
        self.store, self.job_id = store, job_id
        self.lease = Lease(store, job_id, get_settings().worker.stale_after_seconds)

    def __enter__(self) -> Job | None:
        if not self.lease.acquire():
            raise Busy(f"job {self.job_id} is busy")
        return self.store.load_job(self.job_id)

    def __exit__(self, *exc: object) -> None:
        self.lease.release()
