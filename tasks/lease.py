"""The job lease: the one lock on a job, taken by every step, lifecycle event and replay.

A lease is a Redis lock plus the job's place in the due-schedule. Whoever holds it owns the job's
next wake-up: taking it sets the wake-up to "now + stale" (if the holder dies, a sweeper looks
again that soon), and the heartbeat keeps pushing it while work goes on. Whoever finds the lease
taken only ever brings the wake-up forward (in the same round trip), never postpones it, so no
event, duplicate delivery or replay can leave a job whose only wake-up is far away while nothing
works on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from core.store import LOCK_POLL_SECONDS, Store, new_id
from schemas.job import Job

BEAT_EVERY_SECONDS = 2.0


class Busy(Exception):
    """Another step, event or replay holds the job's lease; try again shortly."""


class Lease:
    """The job's lock plus its place in the due-schedule, renewed while the holder works."""

    def __init__(
        self, store: Store, job_id: str, stale_after: float, delivery: bool = False
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.stale_after = stale_after
        self.delivery = delivery  # taken for a step's message: that message is off its queue
        # The lock expires sooner than the schedule fires, so a redelivery after a crash finds
        # the lock free.
        self.lock_seconds = stale_after * 0.6
        self.key = store.lease_key(job_id)
        self.token = new_id()
        self._last_beat = 0.0

    def acquire(self, wait: float = 0.0) -> bool:
        """Take the lease (waiting up to `wait` seconds). Either way the job's wake-up is at most
        `stale_after` away afterwards: ours to keep alive, or a look-again if the holder dies."""
        return self._acquire(wait, load=False)[0]

    def acquire_and_load(self, wait: float = 0.0) -> tuple[bool, Job | None]:
        """`acquire` and, if the lease is ours, read the job in the same round trip (what every
        step delivery, event and replay does first)."""
        return self._acquire(wait, load=True)

    @contextmanager
    def holding(self, wait: float = 0.0) -> Iterator[Job | None]:
        """`with lease.holding() as job:` take the lease and the job (None if there is none),
        raising `Busy` when the lease can't be had within `wait` seconds; released on exit."""
        got, job = self.acquire_and_load(wait)
        if not got:
            raise Busy(f"job {self.job_id} is busy")
        try:
            yield job
        finally:
            self.release()

    def _acquire(self, wait: float, load: bool) -> tuple[bool, Job | None]:
        deadline = time.monotonic() + wait
        while True:
            got, job = self._take(load)
            if got or time.monotonic() >= deadline:
                return got, job
            time.sleep(LOCK_POLL_SECONDS)

    def _take(self, load: bool) -> tuple[bool, Job | None]:
        got, job = self.store.take_lease(
            self.job_id,
            self.token,
            self.lock_seconds,
            time.time() + self.stale_after,
            load=load,
            message_taken=self.delivery,
        )
        if got:
            self._last_beat = time.monotonic()
        return got, job

    def beat_later(self) -> None:
        """The schedule was just written with the job: the next beat can wait."""
        self._last_beat = time.monotonic()

    def beat(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_beat < BEAT_EVERY_SECONDS:
            return
        self._last_beat = now
        # A lost lock (expired) is not renewed: a sweeper may rerun the step; the ledger keeps
        # that harmless.
        self.store.extend_locks([self.key], self.token, self.lock_seconds)
        self.store.set_due(self.job_id, time.time() + self.stale_after)

    def release(self) -> None:
        self.store.release_locks([self.key], self.token)
