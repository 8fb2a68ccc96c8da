"""The sweeper: the due-schedule's safety net, turned into jobs ready for admission.

A job is in `ob:due` while it is not finished, scored by when it next needs attention: its retry
time, or "last sign of life + stale time". The sweeper claims what is due (atomically, so many
sweepers never take the same job twice in one round) and puts the job back in its connection's
wait set (`core.admission`), from where it goes to the workers as its ERP's budget allows, oldest
first. This one loop gives us scheduled retries without holding messages past the visibility
timeout, recovery from workers killed outright, and recovery from a message lost between two
writes; and since every due job passes admission, an ERP that comes back after an outage gets
its backlog at the budget's pace, never all at once.
It also removes personal data from jobs whose retention has run out, and polls shops for
orders whose webhooks never came (`tasks.reconcile`).

A job waiting in its wait set is safe there (the wait set is Redis, like the schedule); its
wake-up is only pushed on. A due job whose message was published less than `stale_after` ago
and not yet taken by a worker (our own record, `ob:sent`: written when the dispatcher publishes,
cleared when a worker takes the message) is still queued: it is not sent again, only looked at
again later (a wake-up brought forward by an event finds such jobs). Nothing here looks into the
broker, so it works the same on any broker. Admission keeps each queue short, so a message not
taken within `stale_after` was lost or went to a worker that died: the job is sent again (the
lease and the ledger make a second delivery harmless).
"""

from __future__ import annotations

import os
import time

from core.logging import get_logger
from core.runtime import Runtime
from tasks.background import BackgroundLoop
from tasks.reconcile import reconcile_due

log = get_logger("orderbridge.sweeper")


def sweep_once(rt: Runtime) -> int:
    """Put every due job back in its wait set; returns how many were."""
    store, worker = rt.store, rt.settings.worker
    now = time.time()
    claimed = store.claim_due(now, now + worker.stale_after_seconds)
    sent = store.sent_at(claimed)
    submitted = 0
    for job_id in claimed:
        job = store.load_job(job_id)
        if job is None or job.is_final or not job.current_step:
            store.clear_due(job_id)
            continue
        if rt.admission.is_waiting(job.connection, job_id):
            store.set_due(job_id, now + worker.queued_stale_after_seconds)
            continue
        if _still_queued(sent.get(job_id), now, worker.stale_after_seconds):
            continue
        rt.submit(job)
        submitted += 1
        log.info("sweep.submitted", job_id=job_id, step=job.current_step, state=job.state)
    store.purge_due(now)
    return submitted


def _still_queued(sent_at: float | None, now: float, patience: float) -> bool:
    """Is the job's latest message still waiting to be taken (and not for too long)?"""
    return sent_at is not None and now - sent_at < patience


class BackgroundSweeper(BackgroundLoop):
    """The sweeper thread every worker runs, so retries and recovery need no beat."""

    name = "orderbridge-sweeper"
    failure_event = "sweep.failed"

    def one_round(self) -> None:
        self.rt.store.mark_worker_alive(os.getpid())
        sweep_once(self.rt)
        reconcile_due(self.rt)
