"""The job lease: the one lock on a job, taken by every step, lifecycle event and replay.

A lease is a Redis lock plus the job's place in the due-schedule. Whoever holds it owns the job's
next wake-up: taking it sets the wake-up to "now + stale" (if the holder dies, a sweeper looks
again that soon), and the heartbeat keeps pushing it while work goes on. Whoever finds the lease
taken only ever brings the wake-up forward (`due_no_later_than`), never postpones it, so no
event, duplicate delivery or replay can leave a job whose only wake-up is far away while nothing
works on it.
"""

from __future__ import annotations

import time
from types import TracebackType

import redis

from core.store import Store

BEAT_EVERY_SECONDS = 2.0


class Busy(Exception):
    """Another step, event or replay holds the job's lease; try again shortly."""


class Lease:
    """The job's lock plus its place in the due-schedule, renewed while the holder works."""

    def __init__(self, store: Store, job_id: str, stale_after: float) -> None:
        self.store = store
        self.job_id = job_id
        self.stale_after = stale_after
        # The lock expires sooner than the schedule fires, so a redelivery after a crash finds
        # the lock free.
        self.lock = store.lock("job", job_id, timeout=stale_after * 0.6)
        self._last_beat = 0.0

    def acquire(self, wait: float = 0.0) -> bool:
        """Take the lease (waiting up to `wait` seconds). Either way the job's wake-up is at most
        `stale_after` away afterwards: ours to keep alive, or a look-again if the holder dies."""
        got = bool(self.lock.acquire(blocking=wait > 0, blocking_timeout=wait or None))
        soon = time.time() + self.stale_after
        if got:
            self.store.set_due(self.job_id, soon)
            self._last_beat = time.monotonic()
        else:
            self.store.due_no_later_than(self.job_id, soon)
        return got

    def beat_later(self) -> None:
        """The schedule was just written with the job: the next beat can wait."""
        self._last_beat = time.monotonic()

    def beat(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_beat < BEAT_EVERY_SECONDS:
            return
        self._last_beat = now
        try:
            self.lock.extend(self.stale_after * 0.6, replace_ttl=True)
        except redis.exceptions.LockError:
            pass  # lost it: a sweeper may rerun the step; the ledger keeps that harmless
        self.store.set_due(self.job_id, time.time() + self.stale_after)

    def release(self) -> None:
        try:
            self.lock.release()
        except redis.exceptions.LockError:
            pass

    def __enter__(self) -> Lease:
        if not self.acquire():
            raise Busy(f"job {self.job_id} is busy")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
