"""The sweeper: turns the due-schedule into Celery messages.

A job is in `ob:due` while it is not finished, scored by when it next needs attention: its retry
time, or "last sign of life + stale time". The sweeper claims what is due (atomically, so many
sweepers never enqueue the same job twice in one round) and enqueues the job's current step.
This one loop gives us scheduled retries without holding messages past the visibility timeout,
recovery from workers killed outright, and recovery from an enqueue lost between two writes.
It also removes personal data from jobs whose retention has run out, and polls shops for
orders whose webhooks never came (`workers.reconcile`).
"""

from __future__ import annotations

import os
import threading
import time

from workers import runtime
from workers.logging import get_logger
from workers.queue import enqueue
from workers.reconcile import reconcile_due
from workers.settings import get_settings

log = get_logger("orderbridge.sweeper")
_stop = threading.Event()
_thread: threading.Thread | None = None


def sweep_once() -> int:
    """Enqueue every due job's current step; returns how many were enqueued."""
    settings = get_settings()
    store = runtime.store()
    now = time.time()
    claimed = store.claim_due(now, now + settings.worker.queued_stale_after_seconds)
    enqueued = 0
    for job_id in claimed:
        job = store.load_job(job_id)
        if job is None or job.is_final or not job.current_step:
            store.clear_due(job_id)
            continue
        enqueue(job.current_step, job_id)
        enqueued += 1
        log.info("sweep.enqueued", job_id=job_id, step=job.current_step, state=job.state)
    store.purge_due(now)
    return enqueued


def _loop(interval: float) -> None:
    while not _stop.is_set():
        try:
            # Tells `up`, the demo and tests that this worker process is consuming.
            runtime.store().redis.set(f"ob:worker:{os.getpid()}", "ready", ex=30)
            sweep_once()
            reconcile_due()
        except Exception as exc:  # Redis away for a moment: try again next round
            log.warning("sweep.failed", error=str(exc))
        _stop.wait(interval)


def start_background_sweeper() -> None:
    global _thread
    if _thread and _thread.is_alive():
        return
    _stop.clear()
    interval = get_settings().worker.sweep_interval_seconds
    _thread = threading.Thread(target=_loop, args=(interval,), name="orderbridge-sweeper",
                               daemon=True)
    _thread.start()


def stop_background_sweeper() -> None:
    _stop.set()
