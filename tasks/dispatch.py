"""The dispatcher: a thread in every worker that runs admission rounds and publishes what they
admit (`core.admission`): a new job, a freed slot, a retry come due or an ERP back from an
outage wakes it through a short nudge list; it also looks every `ROUND_SECONDS` regardless,
since a budget's pause or an outage breaker lapses without anybody saying so.

Any number of dispatchers may run (one per worker process): a round is one atomic script, so a
job is admitted once. A dispatcher that dies between its round and the publish loses nothing:
the admitted job is due in `stale_after`, and the sweeper puts it back in its wait set.
"""

from __future__ import annotations

import os
import socket
import time

from core.runtime import Runtime
from tasks.background import BackgroundLoop

ROUND_SECONDS = 0.25
BATCH = 200
HOLD_EVERY_SECONDS = 1.0


def worker_id() -> str:
    """This worker process among all hosts (its threads count towards admission's limit)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def dispatch_round(rt: Runtime, wait_seconds: float = ROUND_SECONDS) -> int:
    """Wait for a nudge (at most `wait_seconds`), then admit and publish; how many went."""
    rt.admission.wait_for_kick(wait_seconds)
    sent = 0
    while True:
        admitted = rt.dispatch(most=BATCH)
        sent += len(admitted)
        if len(admitted) < BATCH:
            return sent


class DispatchThread(BackgroundLoop):
    """Also, every second: this worker's threads registered for admission, and the slots of the
    jobs it runs held (so a worker killed outright frees both within seconds)."""

    name = "orderbridge-dispatch"
    failure_event = "dispatch.failed"  # Redis away for a moment: the next round catches up
    _held_at = 0.0

    def one_round(self) -> None:
        if time.monotonic() - self._held_at >= HOLD_EVERY_SECONDS:
            self.rt.admission.register_worker(worker_id(), self.rt.settings.worker.concurrency)
            self.rt.admission.hold(self.rt.running_jobs())
            self._held_at = time.monotonic()
        dispatch_round(self.rt)

    def pause(self) -> float:
        return 0.0  # `dispatch_round` itself waits for a nudge

    def pause_after_failure(self) -> float:
        return ROUND_SECONDS * 4
