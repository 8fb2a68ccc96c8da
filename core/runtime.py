"""What one process shares once an entry point has configured it: settings, the store, one
connector per connection (with its HTTP client and shared request budget), and a way to enqueue.

Nothing is built at import. An entry point (worker, intake, CLI command) calls
`configure(settings)`; the task code asks `current()`. Tests build a `Runtime` of their own
(fakeredis store, fake connector, a list for enqueued work) and hand it to the runner directly.
Connectors are built lazily, after a prefork child is forked, and reused by every thread of the
process (httpx clients are thread-safe and keep connections alive between orders).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable

from connectors.base import Connector, ErpSettings
from connectors.http import build_client
from connectors.registry import CONNECTORS
from core import broker
from core.budget import RequestBudget
from core.metrics_store import Recorder
from core.settings import Settings
from core.store import HandedOff, Store

Enqueue = Callable[[str, str], None]
ConnectorFactory = Callable[[str], Connector]

_heartbeat: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "orderbridge_heartbeat", default=None)


def beat() -> None:
    """Tell the running step's lease that we are alive (called before every ERP request)."""
    callback = _heartbeat.get()
    if callback is not None:
        callback()


def set_heartbeat(callback: Callable[[], None] | None) -> contextvars.Token[
        Callable[[], None] | None]:
    return _heartbeat.set(callback)


def reset_heartbeat(token: contextvars.Token[Callable[[], None] | None]) -> None:
    _heartbeat.reset(token)


class Runtime:
    """The process's settings, store, connectors and enqueue function, passed explicitly; and
    the process's metrics `Recorder`, which its connectors' clients and budgets report to."""

    def __init__(self, settings: Settings, store: Store, enqueue: Enqueue | None = None,
                 connector_factory: ConnectorFactory | None = None) -> None:
        self.settings = settings
        self.store = store
        self.enqueue: Enqueue = self._send if enqueue is None else enqueue
        self._factory = connector_factory or self._build_connector
        self._connectors: dict[str, Connector] = {}
        # The intake hands new jobs to the workers through a Redis list (written in the same
        # script as the job) instead of publishing to Celery itself: see `tasks.handoff`.
        self.hand_off = False
        self._lock = threading.Lock()
        self.metrics = Recorder(store.redis)

    def connector(self, connection_name: str) -> Connector:
        """The connector for a connection, built once per process."""
        with self._lock:
            found = self._connectors.get(connection_name)
            if found is None:
                found = self._factory(connection_name)
                self._connectors[connection_name] = found
            return found

    def send_handed_off(self, items: list[HandedOff]) -> None:
        """Publish what the intake handed off: one write of their send times, then a message
        each, labelled from the hand-off (no job read). A runtime built with its own `enqueue`
        (tests) gets a call per item instead."""
        if self.enqueue != self._send:
            for name, job_id, _ in items:
                self.enqueue(name, job_id)
            return
        at = time.time()
        self.store.mark_sent_many([job_id for _, job_id, _ in items], at)
        for name, job_id, labels in items:
            broker.enqueue(name, job_id, sent_at=at, labels=labels)

    def _send(self, name: str, job_id: str) -> None:
        """Record when the job's message went out, then send it (see `tasks.sweeper`)."""
        at = time.time()
        self.store.mark_sent(job_id, at)
        broker.enqueue(name, job_id, sent_at=at)

    def budget_for(self, connection_name: str) -> RequestBudget:
        """The shared budget of the ERP key this connection uses (the connector says which key
        and what limits; the connection may lower the per-window count)."""
        conn = self.settings.connection(connection_name)
        erp_settings: ErpSettings = conn.erp_settings
        limit, window, day_limit = erp_settings.rate_limits()
        if conn.requests_per_second:
            # The window carries a little slack (e.g. 1.1 s for "per second"); not the count.
            limit = max(1, int(conn.requests_per_second * max(1.0, window - 0.1)))
        return RequestBudget(self.store.redis, self.store.budget_key(erp_settings.budget_key()),
                             limit=limit, window_seconds=window, day_limit=day_limit,
                             on_waited=lambda seconds: self.metrics.budget_wait(
                                 connection_name, seconds))

    def _build_connector(self, connection_name: str) -> Connector:
        conn = self.settings.connection(connection_name)
        spec = CONNECTORS[conn.erp]
        worker = self.settings.worker
        client = build_client(timeout=worker.http_timeout_seconds,
                              budget=self.budget_for(connection_name), heartbeat=beat,
                              max_connections=max(10, worker.concurrency * 2),
                              observer=lambda method, path, status: self.metrics.erp_call(
                                  connection_name, method, path, status))
        return spec.factory(conn.erp_settings, client, self.store)


_current: Runtime | None = None


def configure(settings: Settings) -> Runtime:
    """Set up this process from its settings: the broker, the store, the runtime."""
    global _current
    broker.configure(settings)
    _current = Runtime(settings, Store.from_url(settings.redis_url))
    return _current


def current() -> Runtime:
    """The runtime an entry point configured (a worker, the intake, a CLI command)."""
    if _current is None:
        raise RuntimeError("orderbridge is not configured in this process "
                           "(an entry point calls core.runtime.configure(settings))")
    return _current
