"""Operator actions on dead letters: list, show, replay, drop (used by the CLI and HTTP API).

Replay resumes the same job at the failed step: finished steps stay done and are not repeated.
The job is back in `queued` before `replay` returns, and the letter is removed (the job keeps
the history of its attempts).
"""

from __future__ import annotations

import time

from schemas.dead_letter import DeadLetter
from workers.logging import get_logger
from workers.queue import enqueue
from workers.settings import Settings
from workers.store import Store

log = get_logger("orderbridge.dlq")


class NotFound(Exception):
    pass


class Busy(Exception):
    pass


def replay(settings: Settings, store: Store, letter_id: str) -> DeadLetter:
    letter = store.dead_letter(letter_id)
    if letter is None:
        raise NotFound(f"no dead letter {letter_id}")
    lock = store.lock("job", letter.job_id, timeout=30)
    if not lock.acquire(blocking=True, blocking_timeout=10):
        raise Busy(f"job {letter.job_id} is busy")
    try:
        job = store.load_job(letter.job_id)
        if job is None:
            store.remove_dead_letter(letter_id)
            raise NotFound(f"job {letter.job_id} of dead letter {letter_id} no longer exists")
        job.requeue_at(letter.step)
        store.save_job(job)
        store.set_due(job.job_id, time.time() + settings.worker.queued_stale_after_seconds)
        store.remove_dead_letter(letter_id)
    finally:
        lock.release()
    enqueue(letter.step, letter.job_id)
    log.info("dlq.replayed", dead_letter_id=letter_id, job_id=letter.job_id, step=letter.step)
    return letter


def replay_all(settings: Settings, store: Store) -> list[DeadLetter]:
    """Replay every letter there is now (letters written meanwhile wait for the next call)."""
    _, total = store.dead_letters(0, 1)
    letters, _ = store.dead_letters(0, total)
    return [replay(settings, store, letter.id) for letter in letters]


def drop(store: Store, letter_id: str) -> DeadLetter:
    letter = store.dead_letter(letter_id)
    if letter is None or not store.remove_dead_letter(letter_id):
        raise NotFound(f"no dead letter {letter_id}")
    log.info("dlq.dropped", dead_letter_id=letter_id, job_id=letter.job_id)
    return letter
