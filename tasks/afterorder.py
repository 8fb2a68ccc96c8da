"""The thread every worker runs for the work after the order: the invoice watch and the
delivery of its events. Apart from the sweeper, because a subscriber or an ERP that answers
slowly must not hold up the recovery of jobs."""

from __future__ import annotations

import threading

import httpx

from core.logging import get_logger
from core.runtime import Runtime
from tasks.delivery import deliver_due
from tasks.invoicewatch import watch_due

log = get_logger("orderbridge.afterorder")


def watched(rt: Runtime) -> bool:
    return any(conn.events is not None for conn in rt.settings.connections.values())


class AfterOrderThread:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        interval = self.rt.settings.worker.sweep_interval_seconds
        with httpx.Client(follow_redirects=False) as client:
            while not self._stop.is_set():
                try:
                    watch_due(self.rt)
                    deliver_due(self.rt, client)
                except Exception as exc:  # Redis away for a moment: next round
                    log.warning("afterorder.failed", error=str(exc))
                self._stop.wait(interval)

    def start(self) -> None:
        if not watched(self.rt) or (self._thread and self._thread.is_alive()):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="orderbridge-afterorder",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
