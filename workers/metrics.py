"""Prometheus metrics, read from Redis at scrape time so they cover every worker process."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from core.store import Store


class StoreCollector:
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        counters = self.store.counters()
        steps = CounterMetricFamily("orderbridge_steps_done", "Pipeline steps finished",
                                    labels=["step"])
        jobs = CounterMetricFamily("orderbridge_jobs_finished", "Jobs finished, by final state",
                                   labels=["state"])
        for name, value in counters.items():
            if name.startswith("step_done:"):
                steps.add_metric([name.split(":", 1)[1]], value)
            elif name.startswith("jobs_") and name != "jobs_created":
                jobs.add_metric([name.removeprefix("jobs_")], value)
        yield steps
        yield jobs
        yield CounterMetricFamily("orderbridge_jobs_created", "Jobs accepted",
                                  value=counters.get("jobs_created", 0))
        yield CounterMetricFamily("orderbridge_retries", "Step attempts rescheduled",
                                  value=counters.get("retries", 0))
        yield GaugeMetricFamily("orderbridge_dead_letters", "Dead letters waiting",
                                value=self.store.dead_letter_count())
        yield GaugeMetricFamily("orderbridge_jobs_in_flight", "Jobs not finished",
                                value=self.store.jobs_in_flight())


def metrics_response(store: Store) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))  # type: ignore[arg-type]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
