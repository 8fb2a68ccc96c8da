"""Metrics in-process: endpoint templates, the recorder, the runner's counters and the scrape-time
collectors against fakeredis; and the example alert rules against what `/metrics` exposes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from connectors.errors import ConnectionBlocked, PermanentError, RateLimited, TransientError
from connectors.http import build_client
from core import metrics_store as m
from core.broker import QUEUE
from core.budget import RequestBudget
from core.runtime import Runtime
from core.store import DEAD_LETTER_INDEX, DEAD_LETTERS, STATS, Store
from schemas.job import STEPS, Step
from tasks.runner import Outcome, run_step
from tests.support.fakes import accept, make_runtime
from workers.intake.app import create_app
from workers.metrics import metrics_text

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "alerts.yml"


def scrape(rt: Runtime) -> list[Sample]:
    text = metrics_text(rt.store, rt.settings.connections).decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


def due_now(rt: Runtime, job_id: str) -> None:
    """Make the job's waiting step due at once (its retry time is jittered)."""
    job = rt.store.load_job(job_id)
    assert job is not None
    for record in job.steps:
        record.next_attempt_at = None
    rt.store.save_job(job)


# --- endpoint templates ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("get", "/Demo/v2/SalesOrders/12345", "GET /Demo/v2/SalesOrders/{id}"),
        ("POST", "/Demo/v2/SalesOrders/Complete", "POST /Demo/v2/SalesOrders/Complete"),
        (
            "POST",
            "/v2/SalesOrders/987/createAndSendInvoice",
            "POST /v2/SalesOrders/{id}/createAndSendInvoice",
        ),
        (
            "GET",
            "/OutgoingInvoices/3f2504e0-4f89-11d3-9a0c-0305e82c3301/Lines",
            "GET /OutgoingInvoices/{id}/Lines",
        ),
        ("GET", "/docs/3f2504e04f8911d39a0c0305e82c3301", "GET /docs/{id}"),
        ("GET", "/objects/5f1c2a9be4b0a1c2d3e4f5a6", "GET /objects/{id}"),
        (
            "DELETE",
            "/api/v1/1234/salesorder/SalesOrders(guid'3f2504e0-4f89-11d3-9a0c-0305e82c3301')",
            "DELETE /api/v1/{id}/salesorder/SalesOrders({id})",
        ),
        (
            "GET",
            "/admin/api/2024-01/orders/450789469.json",
            "GET /admin/api/2024-01/orders/{id}.json",
        ),
        ("GET", "/customers/by-email/kari%40example.no", "GET /customers/by-email/{id}"),
        ("GET", "/Products?codes=SKU-1", "GET /Products"),
        ("GET", "", "GET /"),
    ],
)
def test_endpoint_template_replaces_ids_only(method: str, path: str, template: str) -> None:
    assert m.endpoint_template(method, path) == template


def test_words_that_look_like_hex_are_not_ids() -> None:
    assert (
        m.endpoint_template("GET", "/api/Added/facade/Order/v2") == "GET /api/Added/facade/Order/v2"
    )


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (200, "2xx"),
        (204, "2xx"),
        (302, "3xx"),
        (404, "4xx"),
        (429, "4xx"),
        (503, "5xx"),
        (None, "error"),
    ],
)
def test_status_class(status: int | None, cls: str) -> None:
    assert m.status_class(status) == cls


def test_bucket_of_is_the_smallest_bound_above() -> None:
    assert m.bucket_of(0.004) == "0.005"
    assert m.bucket_of(0.005) == "0.005"
    assert m.bucket_of(0.3) == "0.5"
    assert m.bucket_of(1e6) == "+Inf"


def test_fields_round_trip_whatever_the_connection_is_called() -> None:
    name = m.finished_field('shop:"nordic"|1', "done")
    assert m.parse_field(name) == (m.FINISHED, ('shop:"nordic"|1', "done"))
    assert m.parse_field("jobs_done") is None
    assert m.parse_field("[broken") is None


# --- the recorder -----------------------------------------------------------------------------
def test_recorder_writes_everything_in_one_flush_and_nothing_before() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    recorder = m.Recorder(client, flush_every=3600)
    recorder.erp_call("shop", "GET", "/SalesOrders/1", 200)
    recorder.erp_call("shop", "GET", "/SalesOrders/2", 200)
    recorder.erp_call("shop", "POST", "/SalesOrders/Complete", 429)
    recorder.budget_wait("shop", 0.25)
    recorder.step_ran("shop", "create_draft", 0.03)
    assert client.keys("*") == []
    recorder.flush()
    counts = client.hgetall(m.COUNTS_KEY)
    assert counts[m.field_name(m.ERP_REQUESTS, "shop", "GET /SalesOrders/{id}", "2xx")] == "2"
    assert counts[m.field_name(m.ERP_REQUESTS, "shop", "POST /SalesOrders/Complete", "4xx")] == "1"
    assert counts[m.field_name(m.ERP_RATE_LIMITED, "shop")] == "1"
    assert float(counts[m.field_name(m.BUDGET_WAIT_SECONDS, "shop")]) == pytest.approx(0.25)
    hist = client.hgetall(m.HIST_KEY)
    assert hist[m.field_name(m.STEP_RUNTIME, "shop", "create_draft", "0.05")] == "1"
    recorder.flush()  # nothing new: nothing written
    assert client.hgetall(m.COUNTS_KEY) == counts


def test_recorder_flushes_on_its_own_after_a_while() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    recorder = m.Recorder(client, flush_every=0)
    recorder.erp_call("shop", "GET", "/Customers", 200)
    assert client.hgetall(m.COUNTS_KEY) != {}


def test_a_forked_child_does_not_write_the_parents_counts_again() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    recorder = m.Recorder(client, flush_every=3600)
    recorder.erp_call("shop", "GET", "/Customers", 200)
    recorder._pid = -1  # as seen from a child process forked after the call
    recorder.flush()
    assert client.hgetall(m.COUNTS_KEY) == {}


def test_a_redis_failure_loses_counts_not_the_step() -> None:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    recorder = m.Recorder(client, flush_every=3600)
    recorder.erp_call("shop", "GET", "/Customers", 200)
    server.connected = False
    recorder.flush()  # logs, does not raise


# --- the client's observer and the budget's waits --------------------------------------------
def test_the_client_reports_every_request_including_failed_ones() -> None:
    seen: list[tuple[str, str, int | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/boom"):
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(429 if request.method == "POST" else 200)

    client = build_client(
        timeout=1, transport=httpx.MockTransport(answer), observer=lambda *call: seen.append(call)
    )
    client.get("https://erp.test/v2/Customers/77", params={"q": "x"})
    client.post("https://erp.test/v2/SalesOrders/Complete", json={})
    with pytest.raises(httpx.ConnectError):
        client.get("https://erp.test/v2/boom")
    assert seen == [
        ("GET", "/v2/Customers/77", 200),
        ("POST", "/v2/SalesOrders/Complete", 429),
        ("GET", "/v2/boom", None),
    ]


def test_budget_reports_the_requests_that_waited() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    waits: list[float] = []
    budget = RequestBudget(
        client, "ob:budget:t", limit=1, window_seconds=0.2, max_wait=0.05, on_waited=waits.append
    )
    budget.take()
    assert waits == []  # a free slot is not a wait
    with pytest.raises(RateLimited):
        budget.take()  # the next slot is further away than max_wait
    assert waits == [0.0]
    patient = RequestBudget(
        client, "ob:budget:u", limit=1, window_seconds=0.1, max_wait=5, on_waited=waits.append
    )
    patient.take()
    patient.take()  # waits in place for the window to move on
    assert len(waits) == 2 and 0 < waits[1] <= 0.2


# --- the runner's counters and the collectors ------------------------------------------------
def test_a_finished_job_is_counted_per_connection_and_step() -> None:
    rt, _, _ = make_runtime(inline=True)
    job_id = accept(rt)
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.FINISHED
    samples = scrape(rt)
    assert value(samples, "orderbridge_orders_finished_total", connection="shop", state="done") == 1
    for step in [s for s in STEPS if s is not Step.SEND_INVOICE]:
        assert (
            value(samples, "orderbridge_step_runtime_seconds_count", connection="shop", step=step)
            == 1
        )
        assert (
            value(
                samples,
                "orderbridge_step_runtime_seconds_bucket",
                connection="shop",
                step=step,
                le="+Inf",
            )
            == 1
        )
    assert value(samples, "orderbridge_dead_letters", connection="shop") == 0
    assert value(samples, "orderbridge_oldest_job_age_seconds", connection="shop") == 0
    assert value(samples, "orderbridge_connection_blocked", connection="shop") == 0
    # the first metrics keep their names and values
    assert value(samples, "orderbridge_jobs_finished_total", state="done") == 1
    assert value(samples, "orderbridge_jobs_created_total") == 1


def test_retries_dead_letters_and_waits_per_connection() -> None:
    rt, connector, _ = make_runtime(inline=True)
    connector.fail["upsert_customer"] = [
        TransientError("503"),
        RateLimited("budget", retry_after=5),
    ]
    connector.fail["create_order"] = [PermanentError("VAT code unknown", erp_status=400)]
    job_id = accept(rt)
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.RETRY
    due_now(rt, job_id)
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.WAITING
    due_now(rt, job_id)
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.DEAD
    samples = scrape(rt)
    assert value(samples, "orderbridge_step_retried_total", connection="shop") == 1
    assert (
        value(samples, "orderbridge_step_waits_total", connection="shop", reason="rate_limited")
        == 1
    )
    assert value(samples, "orderbridge_orders_finished_total", connection="shop", state="dead") == 1
    assert value(samples, "orderbridge_dead_letters", connection="shop") == 1
    assert (
        value(
            samples,
            "orderbridge_step_runtime_seconds_count",
            connection="shop",
            step="upsert_customer",
        )
        == 3
    )  # failed attempts are timed too


def test_a_blocked_connection_shows_until_a_step_succeeds() -> None:
    rt, connector, _ = make_runtime(inline=True)
    connector.fail["upsert_customer"] = [ConnectionBlocked("consent refused", retry_after=30)]
    job_id = accept(rt)
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.WAITING
    samples = scrape(rt)
    assert value(samples, "orderbridge_connection_blocked", connection="shop") == 1
    assert value(samples, "orderbridge_step_waits_total", connection="shop", reason="blocked") == 1
    due_now(rt, job_id)
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.FINISHED
    assert value(scrape(rt), "orderbridge_connection_blocked", connection="shop") == 0


def test_a_block_that_ran_out_shows_zero() -> None:
    rt, _, _ = make_runtime()
    rt.store.redis.hset(m.BLOCKED_KEY, "shop", time.time() - 1)
    assert value(scrape(rt), "orderbridge_connection_blocked", connection="shop") == 0


def test_oldest_job_age_dead_letters_queue_and_workers() -> None:
    rt, _, _ = make_runtime(inline=True)
    old, new = accept(rt, "1001"), accept(rt, "1002")
    job = rt.store.load_job(old)
    assert job is not None
    job.created_at = job.created_at.fromtimestamp(time.time() - 600, job.created_at.tzinfo)
    rt.store.save_job(job)
    assert new
    rt.store.redis.rpush(QUEUE, "m1", "m2", "m3")
    rt.store.mark_worker_alive(101)
    rt.store.mark_worker_alive(102)
    samples = scrape(rt)
    age = value(samples, "orderbridge_oldest_job_age_seconds", connection="shop")
    assert age is not None and 599 <= age <= 660
    assert value(samples, "orderbridge_queue_length", queue_name=QUEUE) == 3
    assert value(samples, "orderbridge_active_workers") == 2
    assert value(samples, "orderbridge_jobs_in_flight") == 2


def test_dead_letters_are_counted_by_connection_even_with_long_answers() -> None:
    rt, connector, _ = make_runtime(inline=True)
    big = {"detail": "ø" * 5000}  # the first bytes read end inside a character
    connector.fail["create_order"] = [
        PermanentError("no", erp_status=400, erp_response=big),
        PermanentError("no", erp_status=400),
    ]
    run_step(rt, accept(rt, "1001"), Step.UPSERT_CUSTOMER)
    run_step(rt, accept(rt, "1002"), Step.UPSERT_CUSTOMER)
    samples = scrape(rt)
    assert value(samples, "orderbridge_dead_letters", connection="shop") == 2


def test_a_scrape_reads_only_the_records_new_since_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt, _, _ = make_runtime()
    first = [accept(rt, "1001"), accept(rt, "1002")]
    read: list[str] = []
    real = m._read_facts

    def spy(client: object, kind: str, ids: list[str], dated: bool = True) -> object:
        read.extend(ids)
        return real(client, kind, ids, dated)  # type: ignore[arg-type]

    monkeypatch.setattr(m, "_read_facts", spy)
    cache = m.FactCache()
    m.read_snapshot(rt.store.redis, cache=cache)
    assert sorted(read) == sorted(first)
    read.clear()
    third = accept(rt, "1003")
    snap = m.read_snapshot(rt.store.redis, cache=cache)
    assert read == [third]
    assert set(snap.oldest_job_age) == {"shop"}


def test_connection_names_are_read_back_exactly() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    store = Store(client)
    name = 'nordic "shop" \\ ø'
    letter = {"id": "l1", "job_id": "j1", "connection": name, "created_at": "2026-12-01T10:00:00Z"}
    client.set(DEAD_LETTERS.key("l1"), json.dumps(letter, ensure_ascii=False))
    client.zadd(DEAD_LETTER_INDEX.key(), {"l1": 1})
    assert m.read_snapshot(store.redis).dead_letters == {name: 1}


def test_erp_calls_through_a_real_client_reach_the_scrape() -> None:
    rt, _, _ = make_runtime()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404 if request.url.path.endswith("/9") else 200)

    client = build_client(
        timeout=1,
        transport=httpx.MockTransport(answer),
        observer=lambda *call: rt.metrics.erp_call("shop", *call),
    )
    for order_id in (1, 2, 9):
        client.get(f"https://erp.test/v2/SalesOrders/{order_id}")
    rt.metrics.flush()
    samples = scrape(rt)
    assert (
        value(
            samples,
            "orderbridge_erp_requests_total",
            connection="shop",
            endpoint="GET /v2/SalesOrders/{id}",
            status_class="2xx",
        )
        == 2
    )
    assert (
        value(
            samples,
            "orderbridge_erp_requests_total",
            connection="shop",
            endpoint="GET /v2/SalesOrders/{id}",
            status_class="4xx",
        )
        == 1
    )


def test_no_ids_in_any_label() -> None:
    rt, _, _ = make_runtime(inline=True)
    job_id = accept(rt)
    run_step(rt, job_id, Step.UPSERT_CUSTOMER)
    rt.metrics.erp_call("shop", "GET", f"/v2/SalesOrders/{job_id}", 200)
    rt.metrics.flush()
    for sample in scrape(rt):
        assert job_id not in str(sample.labels) and "1001" not in str(sample.labels)


# --- the intake's /metrics and the example alert rules ---------------------------------------
@pytest.fixture
def fresh_metrics() -> Iterator[str]:
    rt, _, _ = make_runtime()
    with TestClient(create_app(rt)) as http:
        response = http.get("/metrics")
    assert response.status_code == 200
    yield response.text


def exposed_families(text: str) -> set[str]:
    """Every name a PromQL expression may use for what `text` exposes (family and samples)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(s.name for s in family.samples)
    return names


def alert_rules() -> list[dict[str, object]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_alert_names_only_metrics_the_intake_exposes(fresh_metrics: str) -> None:
    exposed = exposed_families(fresh_metrics)
    rules = alert_rules()
    assert {r["alert"] for r in rules} >= {
        "OrderbridgeDeadLettersGrowing",
        "OrderbridgeOldestJobTooOld",
        "OrderbridgeNoWorkerAlive",
        "OrderbridgeConnectionBlocked",
    }
    for rule in rules:
        expr = str(rule["expr"])
        named = set(re.findall(r"\borderbridge_[a-zA-Z0-9_]+", expr))
        assert named, f"{rule['alert']} names no orderbridge metric"
        assert named <= exposed, f"{rule['alert']}: {named - exposed} not on /metrics"


def test_the_intake_exposes_every_family_with_its_type(fresh_metrics: str) -> None:
    types = {f.name: f.type for f in text_string_to_metric_families(fresh_metrics)}
    assert types["orderbridge_step_runtime_seconds"] == "histogram"
    assert types["orderbridge_erp_requests"] == "counter"
    for gauge in (
        "orderbridge_dead_letters",
        "orderbridge_oldest_job_age_seconds",
        "orderbridge_connection_blocked",
        "orderbridge_queue_length",
        "orderbridge_active_workers",
    ):
        assert types[gauge] == "gauge", gauge


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not on PATH")
def test_promtool_checks_the_alert_rules() -> None:
    result = subprocess.run(
        ["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_store_keys_are_the_stores() -> None:
    assert m.STATS_KEY == STATS.key() and m.DLQ_KEY == DEAD_LETTER_INDEX.key()


def test_accepted_orders_are_counted_per_connection() -> None:
    # Needs `Store.create_job(..., counters=...)` called by `tasks.events.submit_order` with
    # `metrics_store.accepted_field(connection)` (the lead's files; see the metrics report).
    rt, _, _ = make_runtime()
    accept(rt, "1001")
    accept(rt, "1002")
    assert value(scrape(rt), "orderbridge_orders_accepted_total", connection="shop") == 2
