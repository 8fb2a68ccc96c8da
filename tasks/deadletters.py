"""Operator actions on dead letters: list, show, replay, drop (used by the CLI and HTTP API).

A letter of kind `delivery` (an invoice event the shop's webhook kept refusing) is sent again
by the deliverer, before the events that came after it. Any other replay resumes the same job at
the failed step: finished steps stay done and are not repeated.
It takes the job's lease like a step does (waiting a little for a step or event to finish), so
it never races one; the job is back in `queued` before `replay` returns, and the letter is
removed (the job keeps the history of its attempts).
"""

from __future__ import annotations

from core.logging import get_logger
from core.runtime import Runtime
from core.store import Store
from schemas.dead_letter import DeadLetter
from tasks import delivery
from tasks.lease import Busy, Lease

log = get_logger("orderbridge.dlq")
REPLAY_WAIT_SECONDS = 10.0

__all__ = ["Busy", "NotFound", "drop", "replay", "replay_all"]


class NotFound(Exception):
    pass


def replay(rt: Runtime, letter_id: str) -> DeadLetter:
    store = rt.store
    letter = store.dead_letter(letter_id)
    if letter is None:
        raise NotFound(f"no dead letter {letter_id}")
    if letter.kind == "delivery":
        delivery.replay(rt, letter)
        store.remove_dead_letter(letter_id)
        log.info(
            "dlq.replayed",
            dead_letter_id=letter_id,
            kind="delivery",
            event_id=(letter.event or {}).get("id"),
        )
        return letter
    if letter.step is None:
        raise NotFound(f"dead letter {letter_id} names no step to resume")
    lease = Lease(store, letter.job_id, rt.settings.worker.stale_after_seconds)
    with lease.holding(wait=REPLAY_WAIT_SECONDS) as job:  # Busy if it stays taken
        if job is None:
            store.clear_due(letter.job_id)
            store.remove_dead_letter(letter_id)
            raise NotFound(f"job {letter.job_id} of dead letter {letter_id} no longer exists")
        job.requeue_at(letter.step)
        lease.save_job(job)  # the lease set the wake-up to `stale_after`
        store.remove_dead_letter(letter_id)
    rt.submit(job)  # paced like any ready job: a replay of hundreds never floods the ERP
    log.info("dlq.replayed", dead_letter_id=letter_id, job_id=letter.job_id, step=letter.step)
    return letter


def replay_all(rt: Runtime) -> list[DeadLetter]:
    """Replay every letter there is now (letters written meanwhile wait for the next call)."""
    letters, _ = rt.store.dead_letters(limit=None)
    return [replay(rt, letter.id) for letter in letters]


def drop(store: Store, letter_id: str) -> DeadLetter:
    letter = store.dead_letter(letter_id)
    if letter is None or not store.remove_dead_letter(letter_id):
        raise NotFound(f"no dead letter {letter_id}")
    log.info("dlq.dropped", dead_letter_id=letter_id, job_id=letter.job_id)
    return letter
