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

import httpx

from connectors.base import Connector, ErpSettings
from connectors.http import build_client, erp_transport, slot_taker
from connectors.registry import CONNECTORS
from connectors.rehearsal import RehearsalTransport
from core import broker
from core.admission import Admission, Admitted, Lane, in_flight_cap
from core.budget import RequestBudget, budget_keys
from core.logging import get_logger
from core.metrics_store import Recorder
from core.replicas import Replication, replicas_connected
from core.settings import Settings
from core.store import Store
from schemas.job import Job

Enqueue = Callable[[str, str], None]
ConnectorFactory = Callable[[str], Connector]

_heartbeat: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "orderbridge_heartbeat", default=None
)


def beat() -> None:
    """Tell the running step's lease that we are alive (called before every ERP request)."""
    callback = _heartbeat.get()
    if callback is not None:
        callback()


def set_heartbeat(
    callback: Callable[[], None] | None,
) -> contextvars.Token[Callable[[], None] | None]:
    return _heartbeat.set(callback)


def reset_heartbeat(token: contextvars.Token[Callable[[], None] | None]) -> None:
    _heartbeat.reset(token)


class Delivery:
    """What the running step's delivery is: urgent or not (its ERP calls go before the
    others' on a shared budget), how many ERP calls it made (admission learns from it) and
    whether the ERP answered the last one (admission's outage breaker closes on that)."""

    def __init__(self, urgent: bool = False) -> None:
        self.urgent = urgent
        self.calls = 0
        self.erp_answered: bool | None = None  # the last call: answered below 500, or not

    def called(self, status: int | None) -> None:
        self.calls += 1
        self.erp_answered = status is not None and status < 500


_delivery: contextvars.ContextVar[Delivery | None] = contextvars.ContextVar(
    "orderbridge_delivery", default=None
)


def start_delivery(urgent: bool) -> tuple[Delivery, contextvars.Token[Delivery | None]]:
    delivery = Delivery(urgent)
    return delivery, _delivery.set(delivery)


def end_delivery(token: contextvars.Token[Delivery | None]) -> None:
    _delivery.reset(token)


def urgent_now() -> bool:
    """Is the calling thread working on an urgent job? (the budget asks before each call)"""
    delivery = _delivery.get()
    return delivery is not None and delivery.urgent


def _counted_call(status: int | None) -> None:
    delivery = _delivery.get()
    if delivery is not None:
        delivery.called(status)


class Runtime:
    """The process's settings, store, connectors and enqueue function, passed explicitly; and
    the process's metrics `Recorder`, which its connectors' clients and budgets report to."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        enqueue: Enqueue | None = None,
        connector_factory: ConnectorFactory | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.enqueue: Enqueue = self._send if enqueue is None else enqueue
        self._factory = connector_factory or self._build_connector
        self._connectors: dict[str, Connector] = {}
        self._lock = threading.Lock()
        self.metrics = Recorder(store.redis)
        self.admission = Admission(store.redis)
        self._lanes: list[Lane] | None = None
        self._running: dict[str, str] = {}  # job id -> connection, running in this process

    def connector(self, connection_name: str) -> Connector:
        """The connector for a connection, built once per process."""
        with self._lock:
            found = self._connectors.get(connection_name)
            if found is None:
                found = self._factory(connection_name)
                self._connectors[connection_name] = found
            return found

    def submit(self, job: Job) -> None:
        """The job is ready to run its current step: it waits for admission (oldest first,
        urgent before the rest), which hands it to the workers as its ERP's budget allows."""
        if job.current_step is None:
            return
        recheck = time.time() + self.settings.worker.queued_stale_after_seconds
        self.admission.submit(
            job.connection,
            job.job_id,
            str(job.current_step),
            job.reference,
            job.created_at.timestamp(),
            self.is_urgent(job),
            recheck_at=recheck,
        )

    def running(self, job_id: str, connection: str | None) -> None:
        """Note that this process runs the job (`connection`) or no longer does (None); the
        dispatcher keeps the slots of what runs here (`Admission.hold`)."""
        with self._lock:
            if connection is None:
                self._running.pop(job_id, None)
            else:
                self._running[job_id] = connection

    def running_jobs(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(connection, job_id) for job_id, connection in self._running.items()]

    def is_urgent(self, job: Job) -> bool:
        conn = self.settings.connections.get(job.connection)
        return job.urgent or bool(conn and conn.urgent)

    def dispatch(self, most: int = 200) -> list[Admitted]:
        """One admission round: publish the jobs that may go to the workers now."""
        worker = self.settings.worker
        admitted = self.admission.admit(
            self.lanes(), worker.stale_after_seconds, worker.concurrency, most=most
        )
        for item in admitted:
            if self.enqueue != self._send:  # a runtime with its own enqueue (tests)
                self.enqueue(item.step, item.job_id)
            else:
                broker.enqueue(
                    item.step,
                    item.job_id,
                    sent_at=item.sent_at,
                    labels=(item.connection, item.reference),
                )
        return admitted

    def lanes(self) -> list[Lane]:
        """Every connection as admission sees it (its budget never changes in a process)."""
        if self._lanes is None:
            lanes = []
            for name, conn in sorted(self.settings.connections.items()):
                key, limit, window, day_limit = self.budget_terms(name)
                _, pause_key, day_key, *_ = budget_keys(key)
                lanes.append(
                    Lane(
                        connection=name,
                        weight=conn.weight,
                        group=key,
                        cap=in_flight_cap(limit, window, conn.max_in_flight),
                        pause_key=pause_key,
                        day_key=day_key,
                        day_limit=day_limit,
                    )
                )
            self._lanes = lanes
        return self._lanes

    def requests_per_second(self, connection_name: str) -> float:
        _, limit, window, _ = self.budget_terms(connection_name)
        return limit / window

    def rates(self) -> dict[str, float]:
        """Every connection's budget in requests per second (for backlog estimates)."""
        return {name: self.requests_per_second(name) for name in self.settings.connections}

    def _send(self, name: str, job_id: str) -> None:
        """Record when the job's message went out, then send it (see `tasks.sweeper`)."""
        at = time.time()
        self.store.mark_sent(job_id, at)
        broker.enqueue(name, job_id, sent_at=at)

    def budget_terms(self, connection_name: str) -> tuple[str, int, float, int]:
        """The connection's shared budget: (its Redis key, requests per window, window
        seconds, per day or 0). The connector says which ERP key and what limits; the
        connection may lower the per-window count."""
        conn = self.settings.connection(connection_name)
        erp_settings: ErpSettings = conn.erp_settings
        limit, window, day_limit = erp_settings.rate_limits()
        if conn.requests_per_second:
            # The window carries a little slack (e.g. 1.1 s for "per second"); not the count.
            limit = max(1, int(conn.requests_per_second * max(1.0, window - 0.1)))
        return self.store.budget_key(erp_settings.budget_key()), limit, window, day_limit

    def budget_for(self, connection_name: str) -> RequestBudget:
        """The shared budget of the ERP key this connection uses (see `budget_terms`)."""
        key, limit, window, day_limit = self.budget_terms(connection_name)
        return RequestBudget(
            self.store.redis,
            key,
            limit=limit,
            window_seconds=window,
            day_limit=day_limit,
            urgent=urgent_now,
            on_waited=lambda seconds: self.metrics.budget_wait(connection_name, seconds),
        )

    def _build_connector(self, connection_name: str) -> Connector:
        conn = self.settings.connection(connection_name)
        spec = CONNECTORS[conn.erp]
        worker = self.settings.worker
        client = build_client(
            timeout=worker.http_timeout_seconds,
            budget=self.budget_for(connection_name),
            heartbeat=beat,
            max_connections=max(10, worker.concurrency * 2),
            observer=lambda method, path, status: self._observed(
                connection_name, method, path, status
            ),
        )
        return spec.factory(conn.erp_settings, client, self.store)

    def rehearsal(self, connection_name: str) -> tuple[Connector, RehearsalTransport]:
        """A connector of its own for a dry run of the connection (never the cached one): its
        reads reach the ERP through the connection's budget, its writes only the ERP's
        stand-in, which the returned transport records."""
        conn = self.settings.connection(connection_name)
        spec = CONNECTORS[conn.erp]
        if spec.stand_in is None:
            raise ValueError(f"{conn.erp} has no dry run yet")
        timeout = self.settings.worker.http_timeout_seconds
        limits = httpx.Limits(max_connections=10, max_keepalive_connections=1)
        budget = self.budget_for(connection_name)

        transport = RehearsalTransport(
            erp_transport(timeout, limits),
            spec.stand_in(conn.erp_settings),
            slot_taker(budget, beat),  # the stand-in's reads, as the client's requests
        )
        client = build_client(
            timeout=timeout,
            budget=budget,
            heartbeat=beat,  # a preview run by a worker (preview mode) keeps its job's lease
            transport=transport,
            observer=lambda method, path, status: self._observed(
                connection_name, method, path, status
            ),
        )
        return spec.factory(conn.erp_settings, client, self.store), transport

    def _observed(self, connection_name: str, method: str, path: str, status: int | None) -> None:
        _counted_call(status)
        self.metrics.erp_call(connection_name, method, path, status)


log = get_logger("orderbridge.runtime")
_current: Runtime | None = None


def configure(settings: Settings) -> Runtime:
    """Set up this process from its settings: the broker, the store, the runtime."""
    global _current
    broker.configure(settings)
    replication = Replication(settings.redis_min_replicas, settings.redis_replica_timeout_ms)
    _current = Runtime(settings, Store.connect(settings.store_endpoint, replication))
    if replication.required:
        connected = replicas_connected(_current.store.redis)
        if connected is not None and connected < replication.min_replicas:
            # Not an error (a replica may be on its way), but every confirmed write will wait
            # and fail until enough are there: say so once, at the start.
            log.warning(
                "redis.too_few_replicas", connected=connected, required=replication.min_replicas
            )
    return _current


def current() -> Runtime:
    """The runtime an entry point configured (a worker, the intake, a CLI command)."""
    if _current is None:
        raise RuntimeError(
            "orderbridge is not configured in this process "
            "(an entry point calls core.runtime.configure(settings))"
        )
    return _current
