"""The job lease: the one lock on a job, taken by every step, lifecycle event and replay.

A lease is a Redis lock plus the job's place in the due-schedule. Whoever holds it owns the job's
next wake-up: taking it sets the wake-up to "now + stale" (if the holder dies, a sweeper looks
again that soon), and the heartbeat keeps pushing it while work goes on. Whoever finds the lease
taken only ever brings the wake-up forward (in the same round trip), never postpones it, so no
event, duplicate delivery or replay can leave a job whose only wake-up is far away while nothing
works on it.

The lease is fenced (`core.fencing`): its holder renews it before every ERP request (the HTTP
client's heartbeat) and writes the job only through it, so a holder that was cut off, paused
or slow past the lease's expiry finds out before it calls the ERP or writes anything again
(`LeaseLost`), and the worker that took the job over is never overwritten. Between renewals
the lease is known to be ours without asking Redis: it was confirmed at most `renew_every`
ago, and it lasts `lock_seconds` from then.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.fencing import Fence, LeaseLost
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
        # Renewed well before it runs out, so a renewal lost to a slow round trip or two is
        # not yet a lease lost.
        self.renew_every = min(BEAT_EVERY_SECONDS, self.lock_seconds / 3)
        self.key = store.lease_key(job_id)
        self.token = new_id()
        self._confirmed_at = 0.0  # when the lease was last known ours (monotonic, as sent)
        self._held: list[str] = []  # other locks taken under the lease (`locked`)

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
        sent = time.monotonic()
        got, job = self.store.take_lease(
            self.job_id,
            self.token,
            self.lock_seconds,
            time.time() + self.stale_after,
            load=load,
            message_taken=self.delivery,
        )
        if got:
            self._confirmed_at = sent
        return got, job

    @property
    def fence(self) -> Fence:
        """What a write under this lease carries: it lands only while the lease is ours, and
        renews it."""
        return Fence(self.key, self.token, max(1, int(self.lock_seconds * 1000)))

    def save_job(self, job: Job, **options: Any) -> None:
        """`Store.save_job` under the lease: written only if the lease is still ours (else
        `LeaseLost`), and the lease renewed by the same write (the locks held with it are
        not: while there are any, the next beat still renews them all)."""
        sent = time.monotonic()
        self.store.save_job(job, fence=self.fence, **options)
        if not self._held:
            self._confirmed_at = sent

    def beat(self, force: bool = False) -> None:
        """Renew the lease and the job's wake-up if it is time to (or `force`), before any
        ERP request: `LeaseLost` when it is no longer ours, so the request is never made."""
        sent = time.monotonic()
        if not force and sent - self._confirmed_at < self.renew_every:
            return
        if not self.store.renew_lease(
            self.job_id, self.token, self.lock_seconds, time.time() + self.stale_after, self._held
        ):
            raise LeaseLost(f"job {self.job_id}: the lease expired or was taken over")
        self._confirmed_at = sent

    @contextmanager
    def locked(self, scope: tuple[str, ...], names: list[str], wait: float = 30) -> Iterator[None]:
        """Hold the locks `scope + name` for every name (all or none; `Store.locked_all`) as
        part of this lease: taken with its token, renewed with it and lost with it. A
        find-then-create under them can then never go on after the lease is gone, and a
        holder cut off keeps them no longer than its lease, not a fixed 30 s that would hold
        up whoever takes its jobs over. Waiting for them keeps the lease alive."""
        keys = self.store.lock_keys(scope, names)
        with self.store.locked_all(
            scope, names, self.lock_seconds, wait, token=self.token, on_wait=self.beat
        ):
            self._held.extend(keys)
            try:
                yield
            finally:
                self._held = [key for key in self._held if key not in keys]

    def release(self) -> None:
        self.store.release_locks([self.key], self.token)
