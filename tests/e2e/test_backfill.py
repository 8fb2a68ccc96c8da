"""Backfill end to end (issue 19's acceptance): 500 Shopify orders of November in the Shopify
simulator, read by `orderbridge backfill` processes through the GraphQL Admin API and sent by a
real `orderbridge worker` to the PowerOffice simulator, while webhooks and reconciliation bring
some of the same orders; the first backfill process is SIGKILLed half-way and started again.

Each order must end in the ERP exactly once (the ERP's sales orders counted by reference), the
20 orders that were in the ERP before orderbridge must end as `duplicate`, and the summary must
count every order once, its parts adding up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasks.backfill_progress import Progress
from tests.support.cluster import ROOT, Cluster, Simulator, poll, start_simulator
from tests.support.config import poweroffice_connection
from tests.support.payloads import SECRET, shopify_nok_order, sign

pytestmark = pytest.mark.e2e

ORDERS = 500
DELIVERED_BEFORE = range(0, 100)  # by webhook, before the backfill starts
RECONCILED = range(200, 250)  # changed today: reconciliation (every 2 s) brings them in
STILL = range(300, 350)  # by webhook while the killed backfill stands still
RACED = range(350, 400)  # by webhook as the backfill, running again, comes near them
IN_ERP_BEFORE = range(450, 470)  # in PowerOffice before orderbridge existed
SINCE = datetime(2026, 11, 1, tzinfo=UTC)
ARGS = ["--connection", "shop", "--since", "2026-11-01", "--until", "2026-12-01"]
BACKFILL_ID = "20261101T000000Z-20261201T000000Z-live"


@pytest.fixture(scope="module", name="shopify")
def shopify_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    shop = start_simulator("shopify", tmp_path_factory.mktemp("shopify"))
    yield shop
    shop.child.stop()


def seed(shop: Simulator, webhooks_to: str) -> list[dict[str, Any]]:
    """The 500 orders, an hour apart from 1 November, pending payment; their `updated_at` is
    their creation time, except for the ones reconciliation should see (it looks a day back).
    The first 100 are delivered to `webhooks_to` as they are placed."""
    shop.reset()
    # a Shopify Plus store's cost bucket (20,000 points, 1,000 a second), so the test is short
    shop.configure(graphql_bucket_size=20000, graphql_restore_rate=1000)
    subscription = {"topic": "orders/create", "address": webhooks_to}
    shop.http.post("/_sim/subscriptions", json=subscription).raise_for_status()
    base = {k: v for k, v in shopify_nok_order().items() if k not in ("id", "updated_at")}
    base["financial_status"] = "pending"
    placed = []
    for n in range(ORDERS):
        at = (SINCE + timedelta(hours=n)).isoformat()
        body = {**base, "created_at": at, "processed_at": at, "deliver": n in DELIVERED_BEFORE}
        if n not in RECONCILED:
            body["updated_at"] = at
        made = shop.http.post("/_sim/orders", json=body)
        assert made.status_code == 201, made.text
        placed.append(made.json()["order"])
    return placed


def in_erp_before(cluster: Cluster, orders: list[dict[str, Any]]) -> None:
    """Sales orders another integration made in PowerOffice with our references."""
    customer = cluster.sim.api(
        "POST",
        "/Customers",
        json={"Name": "Legacy AS", "EmailAddress": "legacy@example.no"},
    ).json()
    made = cluster.sim.api("POST", "/Products", json={"Code": "LEGACY", "Name": "Legacy"})
    assert made.status_code == 200, made.text
    for n in IN_ERP_BEFORE:
        body = {
            "CustomerNo": customer["Number"],
            "ExternalImportReference": str(orders[n]["id"]),
            "SalesOrderLines": [{"ProductCode": "LEGACY", "Quantity": 1}],
        }
        response = cluster.sim.api("POST", "/SalesOrders/Complete", json=body)
        assert response.status_code == 201, response.text


def webhook(cluster: Cluster, order: dict[str, Any]) -> int:
    raw = json.dumps(order).encode()
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": sign(raw),
        "X-Shopify-Shop-Domain": "demo-shop.myshopify.com",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    url = f"http://127.0.0.1:{cluster.intake_port}/webhooks/shopify/shop"
    return httpx.post(url, content=raw, headers=headers, timeout=10).status_code


def reached(progress: Progress) -> int:
    """The index of the last order the backfill handled (they are an hour apart)."""
    position = progress.meta().get("position")
    return int((float(position) - SINCE.timestamp()) // 3600) if position else -1


def backfill_process(cluster: Cluster, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "backfill", *ARGS],
        env={**cluster.env, "COLUMNS": "200"},
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def test_500_orders_each_in_the_erp_once_with_webhooks_reconciliation_and_a_kill(
    cluster_factory, sim: Simulator, shopify: Simulator, tmp_path: Path
) -> None:
    # Given the ERP without a rate limit worth waiting for, and a Shopify connection to it
    sim.configure(rate_limit_per_second=0)
    connection = poweroffice_connection(
        sim.url,
        source="shopify",
        requests_per_second=200,
        settings={"requests_per_second": 200},
        shop={
            "webhook_secret": SECRET,
            "api_url": shopify.url,
            "access_token": "demo-shopify-token",
            "reconcile_seconds": 2,
        },
    )
    cluster: Cluster = cluster_factory(connection=connection, concurrency=16)
    cluster.start()
    orders = seed(shopify, f"http://127.0.0.1:{cluster.intake_port}/webhooks/shopify/shop")
    ids = [str(order["id"]) for order in orders]
    in_erp_before(cluster, orders)
    before = [*DELIVERED_BEFORE, *RECONCILED]
    poll(
        lambda: all(cluster.store.job_id_for("shop", ids[n]) for n in before),
        30,
        what="the first 100 orders' webhooks and a reconciliation",
    )

    # When a backfill runs and is SIGKILLed half-way, webhooks for later orders arrive while it
    # stands still, and more while it runs again, sent as it comes near them (eight at a time)
    sent: list[tuple[float, int]] = []
    progress = Progress(cluster.store, "shop", BACKFILL_ID)

    def deliver_when_near() -> None:
        poll(lambda: reached(progress) >= RACED[0] - 10, 60, 0.005, "the backfill near them")
        with ThreadPoolExecutor(8) as pool:
            sent.extend(pool.map(lambda n: (time.time(), webhook(cluster, orders[n])), RACED))

    started = time.time()
    first = backfill_process(cluster, tmp_path / "backfill1.log")
    try:
        poll(lambda: progress.summary().found >= ORDERS // 2, 60, 0.01, "half the backfill")
        os.kill(first.pid, 9)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    killed_at = progress.view()
    assert killed_at is not None and killed_at.state == "interrupted", killed_at
    assert ORDERS // 2 <= killed_at.summary.found < ORDERS, killed_at.summary
    assert reached(progress) < STILL[0]
    sent.extend((time.time(), webhook(cluster, orders[n])) for n in STILL)

    # Then started again with the same arguments it continues and finishes
    hooks = threading.Thread(target=deliver_when_near)
    hooks.start()
    code, shown = cluster.cli("backfill", *ARGS)
    finished = time.time()
    hooks.join(30)
    assert code == 0, shown + (tmp_path / "backfill1.log").read_text(errors="replace")
    view = progress.view()
    assert view is not None and view.state == "done", view
    s = view.summary
    assert s.found == ORDERS == s.new + s.known + s.refused, s
    assert s.refused == 0 and s.by_reason == {}, s
    # at least those delivered or reconciled before it reached them (and raced ones it lost)
    assert s.known >= len(DELIVERED_BEFORE) + len(RECONCILED) + len(STILL), s
    print(f"\nbackfill summary: {s.model_dump()}")
    assert "found" in shown and str(ORDERS) in shown
    assert all(200 <= status < 300 for _, status in sent), sent
    assert len(sent) == len(STILL) + len(RACED)
    assert all(started <= at <= finished for at, _ in sent)

    # Each order in the ERP exactly once; those that were there before end as duplicates
    def all_final() -> bool:
        jobs = list(cluster.store.iter_jobs())
        return len(jobs) == ORDERS and all(job.is_final for job in jobs)

    try:
        poll(all_final, 90, 0.5, "every job to finish")
    except AssertionError:
        jobs_now = list(cluster.store.iter_jobs())
        stuck = [job for job in jobs_now if not job.is_final]
        states_now = Counter(job.state for job in jobs_now)
        detail = cluster.diagnosis(stuck[0].job_id) if stuck else ""
        raise AssertionError(f"{len(jobs_now)} jobs, {states_now}\n{detail}") from None
    jobs = {job.reference: job for job in cluster.store.iter_jobs()}
    assert sorted(jobs) == sorted(ids)
    states = Counter(job.state for job in jobs.values())
    assert states == {"done": ORDERS - len(IN_ERP_BEFORE), "duplicate": len(IN_ERP_BEFORE)}
    assert {jobs[ids[n]].state for n in IN_ERP_BEFORE} == {"duplicate"}
    erp = cluster.sim.state()
    references = Counter(
        str(doc.get("ExternalImportReference"))
        for doc in [*erp["SalesOrders"], *erp["OutgoingInvoices"]]
    )
    assert set(references) == set(ids)
    assert max(references.values()) == 1, references.most_common(3)
