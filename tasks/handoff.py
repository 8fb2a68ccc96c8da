"""The hand-off from the intake to the workers: a Redis list the intake pushes new jobs onto in
the same script that creates them, and a thread in every worker that publishes them to Celery.

Why: publishing a Celery message costs the intake about as much CPU as everything else it does
for an order; moved here, accepting an order is one Redis round trip, and the intake's latency
under load stays close to a bare endpoint's. Nothing is lost if a worker dies between taking an
entry and publishing it: the job is in the due-schedule, and the sweeper sends it after
`stale_after` as it does for any lost message.
"""

from __future__ import annotations

from core.runtime import Runtime
from tasks.background import BackgroundLoop

WAIT_SECONDS = 1.0


def pass_on(rt: Runtime, wait_seconds: float = WAIT_SECONDS) -> int:
    """Publish what the intake handed off (waiting up to `wait_seconds` for the first)."""
    taken = rt.store.take_handoffs(wait_seconds)
    if taken:
        rt.send_handed_off(taken)
    return len(taken)


class HandoffThread(BackgroundLoop):
    name = "orderbridge-handoff"
    failure_event = "handoff.failed"  # Redis away for a moment: the sweeper covers the gap

    def one_round(self) -> None:
        pass_on(self.rt)

    def pause(self) -> float:
        return 0.0  # `pass_on` itself waits for work

    def pause_after_failure(self) -> float:
        return WAIT_SECONDS
