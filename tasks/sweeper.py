"""The sweeper: turns the due-schedule into Celery messages.

A job is in `ob:due` while it is not finished, scored by when it next needs attention: its retry
time, or "last sign of life + stale time". The sweeper claims what is due (atomically, so many
sweepers never enqueue the same job twice in one round) and enqueues the job's current step.
This one loop gives us scheduled retries without holding messages past the visibility timeout,
recovery from workers killed outright, and recovery from an enqueue lost between two writes.
It also removes personal data from jobs whose retention has run out, and polls shops for
orders whose webhooks never came (`tasks.reconcile`).

No wake-up is ever far while nothing works on a job: a job handed on to the queue is due in
`stale_after`, and so is a claimed one. A due job whose message is provably still waiting in the
broker's queue (sent no earlier than the oldest message there, and the queue is first in, first
out) is not sent again, only looked at again later; so a backlog earns no duplicates, while a
message that left the queue without its job being leased (lost, or taken by a worker that died)
is sent again within `stale_after`. After `queued_stale_after_seconds` in the queue a job is sent
again regardless, in case that evidence misleads.
"""

from __future__ import annotations

import os
import time

from core.broker import QUEUE
from core.logging import get_logger
from core.runtime import Runtime
from tasks.background import BackgroundLoop
from tasks.reconcile import reconcile_due

log = get_logger("orderbridge.sweeper")


def sweep_once(rt: Runtime) -> int:
    """Enqueue every due job's current step; returns how many were enqueued."""
    store, worker = rt.store, rt.settings.worker
    now = time.time()
    claimed = store.claim_due(now, now + worker.stale_after_seconds)
    oldest = store.oldest_queued_sent_at(QUEUE)
    sent = store.sent_at(claimed)
    enqueued = 0
    for job_id in claimed:
        sent_at = sent.get(job_id)
        if _still_queued(sent_at, oldest, now, worker.queued_stale_after_seconds):
            continue
        job = store.load_job(job_id)
        if job is None or job.is_final or not job.current_step:
            store.clear_due(job_id)
            continue
        rt.enqueue(job.current_step, job_id)
        enqueued += 1
        log.info("sweep.enqueued", job_id=job_id, step=job.current_step, state=job.state)
    store.purge_due(now)
    return enqueued


def _still_queued(sent_at: float | None, oldest: float | None, now: float,
                  patience: float) -> bool:
    """Is the job's latest message still waiting in the queue (and not for too long)?"""
    if sent_at is None or oldest is None:
        return False
    return sent_at >= oldest and now - sent_at < patience


class BackgroundSweeper(BackgroundLoop):
    """The sweeper thread every worker runs, so retries and recovery need no beat."""

    name = "orderbridge-sweeper"
    failure_event = "sweep.failed"

    def one_round(self) -> None:
        self.rt.store.mark_worker_alive(os.getpid())
        sweep_once(self.rt)
        reconcile_due(self.rt)
