"""Prometheus metrics, read from Redis at scrape time so they cover every worker process.

What each process recorded lives in Redis (`core.metrics_store`); this module only turns one
snapshot of it into metric families. Names follow celery-exporter where they overlap (`_total`
counters, `_seconds` histograms, `queue_length{queue_name}`), except `active_workers` for its
`active_worker_count`, which promtool's lint refuses (a gauge named `_count`). Labels are
connection, step, final state, ERP endpoint template and status class: never an order or job
id. Per-connection gauges carry every configured connection, at 0 when there is nothing to
report, so alert rules see them. `queue_length` is read from the broker's lists, so only when
the broker is the store's own Redis (not RabbitMQ, not a Redis of its own);
`messages_waiting` comes from our own record of sent messages and holds on any broker.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping

from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from core import metrics_store as m
from core.admission import Admission
from core.broker import queues
from core.store import SENT, Store

# What `generate_latest` writes with its default escaping: the classic text format, which
# prometheus_client's own content negotiation labels version 0.0.4 (its CONTENT_TYPE_LATEST
# names 1.0.0, the UTF-8 names variant, which scrapers older than Prometheus 3 do not know).
METRICS_MEDIA_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# family in Redis -> (exposed name without `_total`, help, label names)
COUNTERS: dict[str, tuple[str, str, list[str]]] = {
    m.ACCEPTED: ("orderbridge_orders_accepted", "Orders accepted (jobs created)", ["connection"]),
    m.FINISHED: (
        "orderbridge_orders_finished",
        "Jobs that reached a final state (done, duplicate, dead, cancelled)",
        ["connection", "state"],
    ),
    m.RETRIED: (
        "orderbridge_step_retried",
        "Step attempts that failed and were rescheduled",
        ["connection"],
    ),
    m.STEP_WAITS: (
        "orderbridge_step_waits",
        "Steps put off without counting an attempt (rate_limited, blocked, not_yet)",
        ["connection", "reason"],
    ),
    m.ERP_REQUESTS: (
        "orderbridge_erp_requests",
        "HTTP requests to the ERP, by endpoint template and status class (error: no answer)",
        ["connection", "endpoint", "status_class"],
    ),
    m.ERP_RATE_LIMITED: (
        "orderbridge_erp_rate_limited",
        "429 answers from the ERP",
        ["connection"],
    ),
    m.BUDGET_WAITS: (
        "orderbridge_budget_waits",
        "Requests that waited for a slot of the shared request budget",
        ["connection"],
    ),
    m.BUDGET_WAIT_SECONDS: (
        "orderbridge_budget_wait_seconds",
        "Time requests spent waiting for the shared request budget",
        ["connection"],
    ),
}


class StoreCollector(Collector):
    """Every orderbridge metric family, from one Redis snapshot per scrape."""

    def __init__(
        self,
        store: Store,
        connections: Iterable[str] = (),
        cache: m.FactCache | None = None,
        rates: Mapping[str, float] | None = None,
        queues_in_store: bool = True,
    ) -> None:
        self.store = store
        self.connections = list(connections)
        self.cache = cache
        self.rates = dict(rates or {})  # connection -> its budget's requests per second
        self.queues_in_store = queues_in_store  # the broker's queues are lists in the store

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        snap = m.read_snapshot(self.store.redis, now, self.cache)
        yield from _older_families(snap)
        for family, (name, help_text, labels) in COUNTERS.items():
            counter = CounterMetricFamily(name, help_text, labels=labels)
            for values, value in sorted(snap.counters.get(family, {}).items()):
                if len(values) == len(labels):
                    counter.add_metric(list(values), value)
            yield counter
        yield _step_runtime(snap)
        connections = sorted(
            {*self.connections, *snap.dead_letters, *snap.oldest_job_age, *snap.blocked_until}
        )
        yield _per_connection(
            "orderbridge_dead_letters",
            "Dead letters waiting for an operator",
            connections,
            {c: float(v) for c, v in snap.dead_letters.items()},
        )
        yield _per_connection(
            "orderbridge_oldest_job_age_seconds",
            "Age of the oldest unfinished job (0: none)",
            connections,
            snap.oldest_job_age,
        )
        yield _per_connection(
            "orderbridge_connection_blocked",
            "1 while the connection's jobs wait for an operator (e.g. ERP consent refused)",
            connections,
            {c: 1.0 for c, until in snap.blocked_until.items() if until > now},
        )
        yield from self._admission(connections)
        yield GaugeMetricFamily(
            "orderbridge_active_workers",
            "Worker processes alive (their liveness key is fresh)",
            value=snap.workers_alive,
        )

    def _admission(self, connections: list[str]) -> Iterator[Metric]:
        """Per connection: jobs waiting for admission, in flight, the backlog's time to drain
        at the budget's rate, an open outage breaker; the messages sent and not yet taken, and
        each broker queue's length where the store holds the queues."""
        figures = Admission(self.store.redis).figures(connections)
        names = queues(connections) if self.queues_in_store else []
        pipe = self.store.redis.pipeline(transaction=False)
        pipe.hlen(SENT.key())
        for name in names:
            pipe.llen(name)
        waiting, *lengths = pipe.execute()
        yield _per_connection(
            "orderbridge_jobs_waiting",
            "Jobs ready to run, waiting for admission (their ERP budget, their turn)",
            connections,
            {c: float(f.waiting) for c, f in figures.items()},
        )
        yield _per_connection(
            "orderbridge_jobs_admitted",
            "Jobs handed to the workers and not yet through (queued or running)",
            connections,
            {c: float(f.in_flight) for c, f in figures.items()},
        )
        yield _per_connection(
            "orderbridge_backlog_drain_seconds",
            "Estimated seconds until the waiting jobs are through at the "
            "budget's rate (0: none wait)",
            connections,
            {c: f.eta_seconds(self.rates.get(c, 0.0)) or 0.0 for c, f in figures.items()},
        )
        yield _per_connection(
            "orderbridge_erp_outage",
            "1 while the ERP fails as in an outage and only one probe job at a time is let through",
            connections,
            {c: 1.0 for c, f in figures.items() if f.outage},
        )
        yield GaugeMetricFamily(
            "orderbridge_messages_waiting",
            "Job messages sent to the broker and not yet taken by a worker (our own record)",
            value=waiting,
        )
        if not self.queues_in_store:
            return
        queue = GaugeMetricFamily(
            "orderbridge_queue_length",
            "Messages waiting in the broker queue (one per connection, and the shared one)",
            labels=["queue_name"],
        )
        for name, length in zip(names, lengths, strict=True):
            queue.add_metric([name], float(length))
        yield queue


def _older_families(snap: m.Snapshot) -> Iterator[Metric]:
    """The first metrics, without a connection label; kept as they were."""
    steps = CounterMetricFamily(
        "orderbridge_steps_done", "Pipeline steps finished", labels=["step"]
    )
    jobs = CounterMetricFamily(
        "orderbridge_jobs_finished", "Jobs finished, by final state", labels=["state"]
    )
    for name, value in sorted(snap.stats.items()):
        if name.startswith("step_done:"):
            steps.add_metric([name.split(":", 1)[1]], value)
        elif name.startswith("jobs_") and name != "jobs_created":
            jobs.add_metric([name.removeprefix("jobs_")], value)
    yield steps
    yield jobs
    yield CounterMetricFamily(
        "orderbridge_jobs_created", "Jobs accepted", value=snap.stats.get("jobs_created", 0)
    )
    yield CounterMetricFamily(
        "orderbridge_retries", "Step attempts rescheduled", value=snap.stats.get("retries", 0)
    )
    yield GaugeMetricFamily(
        "orderbridge_jobs_in_flight", "Jobs not finished", value=snap.jobs_in_flight
    )


def _step_runtime(snap: m.Snapshot) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "orderbridge_step_runtime_seconds",
        "Run time of one execution of a pipeline step (its ERP calls "
        "included, failed attempts too)",
        labels=["connection", "step"],
    )
    for (connection, step), histogram in sorted(snap.histograms.items()):
        cumulative, buckets = 0, []
        for bound in m.BUCKETS:
            le = m.bucket_of(bound)
            cumulative += histogram.buckets.get(le, 0)
            buckets.append((le, float(cumulative)))
        family.add_metric([connection, step], buckets, histogram.sum)
    return family


def _per_connection(
    name: str, help_text: str, connections: list[str], values: dict[str, float]
) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, help_text, labels=["connection"])
    for connection in connections:
        gauge.add_metric([connection], values.get(connection, 0.0))
    return gauge


def metrics_text(
    store: Store,
    connections: Iterable[str] = (),
    cache: m.FactCache | None = None,
    rates: Mapping[str, float] | None = None,
    queues_in_store: bool = True,
) -> bytes:
    """The exposition text; keep one `cache` per process so a scrape reads only new records."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, connections, cache, rates, queues_in_store))
    return generate_latest(registry)


def metrics_response(
    store: Store,
    connections: Iterable[str] = (),
    cache: m.FactCache | None = None,
    rates: Mapping[str, float] | None = None,
    queues_in_store: bool = True,
) -> Response:
    return Response(
        metrics_text(store, connections, cache, rates, queues_in_store),
        media_type=METRICS_MEDIA_TYPE,
    )
