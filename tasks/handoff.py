"""The hand-off from the intake to the workers: a Redis list the intake pushes new jobs onto in
the same script that creates them, and a thread in every worker that publishes them to Celery.

Why: publishing a Celery message costs the intake about as much CPU as everything else it does
for an order; moved here, accepting an order is one Redis round trip, and the intake's latency
under load stays close to a bare endpoint's. Nothing is lost if a worker dies between taking an
entry and publishing it: the job is in the due-schedule, and the sweeper sends it after
`stale_after` as it does for any lost message.
"""

from __future__ import annotations

import threading

from core.logging import get_logger
from core.runtime import Runtime

log = get_logger("orderbridge.handoff")
WAIT_SECONDS = 1.0


def pass_on(rt: Runtime, wait_seconds: float = WAIT_SECONDS) -> int:
    """Publish what the intake handed off (waiting up to `wait_seconds` for the first)."""
    taken = rt.store.take_handoffs(wait_seconds)
    if taken:
        rt.send_handed_off(taken)
    return len(taken)


class HandoffThread:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                pass_on(self.rt)
            except Exception as exc:  # Redis away for a moment: the sweeper covers the gap
                log.warning("handoff.failed", error=str(exc))
                self._stop.wait(WAIT_SECONDS)

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="orderbridge-handoff",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
