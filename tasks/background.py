"""The daemon threads every worker runs beside its Celery pool (sweeper, after-order work,
hand-off): one loop, so starting, stopping and surviving a failed round are the same for all.

A round that fails (Redis away for a moment, an ERP down) is logged and tried again after a
pause; the loop only ends when the worker stops it.
"""

from __future__ import annotations

import threading

from core.logging import get_logger
from core.runtime import Runtime

log = get_logger("orderbridge.background")


class BackgroundLoop:
    """Runs `one_round()` again and again on a daemon thread until `stop()`."""

    name = "orderbridge-loop"
    failure_event = "background.failed"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def one_round(self) -> None:
        raise NotImplementedError

    def wanted(self) -> bool:
        """Whether this process needs the loop at all (configuration)."""
        return True

    def pause(self) -> float:
        """Seconds between rounds."""
        return self.rt.settings.worker.sweep_interval_seconds

    def pause_after_failure(self) -> float:
        return self.pause()

    def close(self) -> None:
        """Release what the rounds used, once the loop has ended."""

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.one_round()
                except Exception as exc:
                    log.warning(self.failure_event, error=str(exc))
                    self._stop.wait(self.pause_after_failure())
                    continue
                self._stop.wait(self.pause())
        finally:
            self.close()

    def start(self) -> None:
        if not self.wanted() or (self._thread and self._thread.is_alive()):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
