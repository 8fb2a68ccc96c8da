"""`/metrics` after a small real run: intake and worker processes, the PowerOffice simulator over
HTTP, real Redis. What the worker recorded must show on the intake's scrape, per connection."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.support.cluster import Cluster, poll
from tests.support.factories import customer, order, three_line_order

pytestmark = pytest.mark.e2e

BASE = "/Demo/v2"


def scrape(cluster: Cluster) -> list[Sample]:
    response = cluster.http.get("/metrics")
    assert response.status_code == 200
    return [s for f in text_string_to_metric_families(response.text) for s in f.samples]


def total(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels`."""
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def test_metrics_after_done_dead_and_throttled_orders(cluster: Cluster) -> None:
    sim = cluster.sim
    # Given an order the ERP refuses (400 on create: dead-lettered at once)
    sim.fault(match="POST /SalesOrders/Complete", mode="status", status=400, count=1)
    assert cluster.wait_final(cluster.accept(order("M-1")))["state"] == "dead"
    # And three orders of new customers that run into two 429s on the customer look-up
    sim.fault(match="GET /Customers", mode="rate_limit", count=2)
    jobs = [
        cluster.accept(
            three_line_order(f"M-{i}", cust=customer(f"c-{i}", email=f"m{i}@example.no"))
        )
        for i in (2, 3, 4)
    ]
    assert {cluster.wait_final(j)["state"] for j in jobs} == {"done"}

    # Then the intake's scrape shows what the worker recorded (written as each delivery ends)
    def settled() -> list[Sample] | None:
        samples = scrape(cluster)
        finished = total(samples, "orderbridge_orders_finished_total", connection="shop")
        return samples if finished == 4 else None

    samples = poll(settled, 10, what="4 finished orders on /metrics")
    shop = {"connection": "shop"}
    assert total(samples, "orderbridge_orders_finished_total", state="done", **shop) == 3
    assert total(samples, "orderbridge_orders_finished_total", state="dead", **shop) == 1
    accepted = total(samples, "orderbridge_orders_accepted_total", **shop)
    assert (
        accepted
        == 4
        == total(samples, "orderbridge_orders_finished_total", **shop)
        + total(samples, "orderbridge_jobs_in_flight")
    )
    assert total(samples, "orderbridge_dead_letters", **shop) == 1
    assert total(samples, "orderbridge_oldest_job_age_seconds", **shop) == 0
    assert total(samples, "orderbridge_connection_blocked", **shop) == 0
    # every step ran once per order (create_draft for the dead one too); look-ups retried
    for step in ("upsert_products", "check_duplicate", "create_draft"):
        assert total(samples, "orderbridge_step_runtime_seconds_count", step=step, **shop) == 4, (
            step
        )
    assert (
        total(samples, "orderbridge_step_runtime_seconds_count", step="upsert_customer", **shop)
        == 4 + 2
    )
    assert (
        total(
            samples,
            "orderbridge_step_runtime_seconds_bucket",
            step="create_draft",
            le="+Inf",
            **shop,
        )
        == 4
    )
    # ERP calls by endpoint template and status class, counted as the simulator counted them
    requests = "orderbridge_erp_requests_total"
    assert total(samples, requests, status_class="2xx", **shop) > 0
    assert (
        total(
            samples,
            requests,
            endpoint=f"POST {BASE}/SalesOrders/Complete",
            status_class="4xx",
            **shop,
        )
        == 1
    )
    assert (
        total(
            samples,
            requests,
            endpoint=f"POST {BASE}/SalesOrders/Complete",
            status_class="2xx",
            **shop,
        )
        == 3
    )
    assert (
        total(samples, requests, endpoint=f"GET {BASE}/Customers", status_class="4xx", **shop) == 2
    )
    assert total(samples, requests, endpoint=f"GET {BASE}/Customers", **shop) == sim.calls_to(
        "GET /Customers"
    )
    assert total(samples, "orderbridge_erp_rate_limited_total", **shop) == 2
    # a 429 is a wait, never an attempt: no retry counted, two waits
    assert total(samples, "orderbridge_step_retried_total", **shop) == 0
    assert total(samples, "orderbridge_step_waits_total", reason="rate_limited", **shop) == 2
    assert total(samples, "orderbridge_budget_waits_total", **shop) >= 1  # the 429's pause
    # the process-wide gauges
    assert total(samples, "orderbridge_active_workers") == 1
    assert total(samples, "orderbridge_queue_length", queue_name="orderbridge") == 0
    # and no order or job id in any label
    for sample in samples:
        assert not any(j in str(sample.labels) for j in jobs), sample
