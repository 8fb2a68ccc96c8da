"""End to end into Exact Online: real Redis, worker processes, the Exact simulator over HTTP.

The connection is consented the real way (`orderbridge connect --auto` runs the authorization
code flow against the simulator), items are added through the simulator's admin API, and each
test counts what the simulator holds and which calls it saw.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.cluster import Cluster, Simulator, SimulatorPool, poll
from tests.support.config import exact_connection
from tests.support.factories import customer, order, product_line

pytestmark = pytest.mark.e2e

DOCUMENTS = {
    "order": "SalesOrders",
    "invoice": "SalesInvoices",
    "direct_invoice": "SalesInvoices",
    "sales_entry": "SalesEntries",
}
ENDPOINTS = {
    "order": "salesorder/SalesOrders",
    "invoice": "salesinvoice/SalesInvoices",
    "direct_invoice": "salesinvoice/SalesInvoices",
    "sales_entry": "salesentry/SalesEntries",
}


@pytest.fixture
def exact_sim(simulators: SimulatorPool) -> Simulator:
    sim = simulators.get("exact")
    sim.reset()
    return sim


def warehouse(sim: Simulator) -> str:
    return str(sim.http.get("/_sim/config").json().get("warehouse_id", ""))


@pytest.fixture
def exact_cluster(tmp_path, exact_sim: Simulator, store) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(
        send_as: str = "order",
        workers: int = 1,
        minute_limit: int = 60,
        minute_seconds: int = 60,
        **options: Any,
    ) -> Cluster:
        connection = exact_connection(
            exact_sim.url,
            settings={
                "send_as": send_as,
                "warehouse_id": warehouse(exact_sim),
                "minute_limit": minute_limit,
                "minute_seconds": minute_seconds,
            },
        )
        cluster = Cluster(tmp_path, exact_sim, store, connection=connection, **options)
        made.append(cluster)
        code, out = cluster.cli("connect", "shop", "--auto")
        assert code == 0, out
        cluster.start(workers)
        return cluster

    yield make
    for cluster in made:
        cluster.stop()


def add_items(sim: Simulator, *codes: str) -> None:
    for code in codes:
        sim.http.post(
            "/_sim/items", json={"Code": code, "Description": f"Item {code}"}
        ).raise_for_status()


@pytest.mark.parametrize("send_as", ["order", "invoice", "direct_invoice", "sales_entry"])
def test_each_mode_transfers_thirty_skus_with_two_item_lookups(exact_cluster, send_as) -> None:
    cluster: Cluster = exact_cluster(send_as=send_as)
    skus = [f"ART-{i:02d}" for i in range(30)]
    add_items(cluster.sim, *skus)
    body = order("NL-1001", lines=[product_line(s, "1", "12.10", vat_rate="0.21") for s in skus])
    job = cluster.wait_final(cluster.accept(body), timeout=90)
    assert job["state"] == "done", job
    documents = cluster.sim.state()[DOCUMENTS[send_as]]
    assert [d["YourRef"] for d in documents] == ["NL-1001"]
    lookups = cluster.sim.calls_to("GET /logistics/Items")
    # sales entries book on a GL account: they need no items at all
    assert lookups == (0 if send_as == "sales_entry" else 2)


def test_same_order_twice_and_reference_already_in_exact(exact_cluster, store) -> None:
    cluster: Cluster = exact_cluster(send_as="invoice")
    add_items(cluster.sim, "KAFFE-500")
    body = order("NL-2001")
    first = cluster.post_order(body)
    assert cluster.post_order(body).status_code == 200
    assert cluster.wait_final(first.json()["job_id"])["state"] == "done"
    # Another installation (or lost state) sends the same order: Exact already has it
    store.redis.delete("ob:ref:shop:NL-2001")
    job = cluster.wait_final(cluster.accept(body))
    assert job["state"] == "duplicate", job
    assert len(cluster.sim.state()["SalesInvoices"]) == 1
    assert job["erp"]["order_id"] == cluster.sim.state()["SalesInvoices"][0]["InvoiceID"]


def test_reference_with_quotes_and_keywords_matches_only_itself(exact_cluster, store) -> None:
    cluster: Cluster = exact_cluster(send_as="order")
    add_items(cluster.sim, "KAFFE-500")
    assert cluster.wait_final(cluster.accept(order("other")))["state"] == "done"
    tricky = "O'Neil' or 1 eq 1"
    job = cluster.wait_final(cluster.accept(order(tricky)))
    assert job["state"] == "done", job  # not mistaken for the order "other"
    store.redis.delete(f"ob:ref:shop:{tricky}")
    again = cluster.wait_final(cluster.accept(order(tricky)))
    assert again["state"] == "duplicate"
    refs = sorted(d["YourRef"] for d in cluster.sim.state()["SalesOrders"])
    assert refs == sorted(["other", tricky])


def test_missing_sku_dead_letters_then_replay_after_adding_it(exact_cluster) -> None:
    cluster: Cluster = exact_cluster(send_as="order")
    add_items(cluster.sim, "KNOWN")
    job_id = cluster.accept(
        order("NL-3001", lines=[product_line("KNOWN"), product_line("MISSING-7")])
    )
    job = cluster.wait_final(job_id)
    assert job["state"] == "dead"
    letter = cluster.operator("GET", "/v1/dead-letters").json()["items"][0]
    assert letter["step"] == "upsert_products" and "MISSING-7" in letter["message"]
    assert letter["attempts"] == 1
    add_items(cluster.sim, "MISSING-7")
    code, out = cluster.cli("dlq", "replay", letter["id"])
    assert code == 0, out
    assert cluster.wait_final(job_id)["state"] == "done"
    assert len(cluster.sim.state()["SalesOrders"]) == 1


def test_twenty_jobs_on_an_expired_token_make_one_refresh(exact_cluster) -> None:
    cluster: Cluster = exact_cluster(send_as="order", concurrency=20)
    add_items(cluster.sim, "KAFFE-500")
    cust = customer("c-exp", "Jan Jansen", "jan@example.nl")
    assert cluster.wait_final(cluster.accept(order("NL-4000", cust=cust)))["state"] == "done"
    refreshes_before = cluster.sim.calls_to("POST /api/oauth2/token")
    cluster.sim.http.post("/_sim/expire-tokens").raise_for_status()
    jobs = [cluster.accept(order(f"NL-40{i:02d}", cust=cust)) for i in range(1, 21)]
    assert {cluster.wait_final(j, timeout=90)["state"] for j in jobs} == {"done"}
    assert cluster.sim.calls_to("POST /api/oauth2/token") - refreshes_before == 1
    assert cluster.operator("GET", "/v1/dead-letters").json()["total"] == 0
    token_answers = [
        c for c in cluster.sim.calls()["calls"] if c["endpoint"] == "POST /api/oauth2/token"
    ]
    assert all(c["status"] == 200 for c in token_answers)  # no "old refresh token used"


MINUTE = 3


def test_three_hundred_orders_under_a_sixty_per_minute_limit(exact_cluster) -> None:
    # The simulator's "minute" is 3 s here (same rules, twenty times faster); our connector is
    # told the same, so the test takes about half a minute instead of ten.
    cluster: Cluster = exact_cluster(
        send_as="order", workers=2, minute_limit=60, minute_seconds=MINUTE, concurrency=8
    )
    cluster.sim.configure(minute_limit=60, minute_seconds=MINUTE)
    add_items(cluster.sim, "KAFFE-500")
    cust = customer("c-300", "Piet Pietersen", "piet@example.nl")
    jobs = [cluster.accept(order(f"NL-5{i:03d}", cust=cust)) for i in range(300)]
    finals = [cluster.wait_final(j, timeout=240) for j in jobs]
    assert {f["state"] for f in finals} == {"done"}
    assert cluster.operator("GET", "/v1/dead-letters").json()["total"] == 0
    assert len(cluster.sim.state()["SalesOrders"]) == 300
    calls = cluster.sim.calls()["calls"]
    throttled = sum(1 for c in calls if c["status"] == 429)
    print(f"\n429s answered by the simulator for 300 orders: {throttled}")
    assert throttled <= 5
    # Never more than 60 + one in flight per worker thread in any simulator minute
    per_window: dict[int, int] = {}
    for c in calls:
        if c["endpoint"] != "POST /api/oauth2/token" and c["status"] != 429:
            per_window[int(c["at"] // MINUTE)] = per_window.get(int(c["at"] // MINUTE), 0) + 1
    assert max(per_window.values()) <= 60 + 2 * 8


def test_refused_refresh_token_blocks_the_connection_until_reconsent(exact_cluster, store) -> None:
    cluster: Cluster = exact_cluster(send_as="order")
    add_items(cluster.sim, "KAFFE-500")
    # Given Exact no longer accepts our refresh token (revoked) and the access token expired
    cluster.sim.http.post("/_sim/revoke-refresh-tokens").raise_for_status()
    cluster.sim.http.post("/_sim/expire-tokens").raise_for_status()
    jobs = [cluster.accept(order(f"NL-60{i}")) for i in range(3)]
    # Then the jobs wait (no dead letters), the job shows why
    poll(
        lambda: all((store.load_job(j).step("upsert_customer").last_error or None) for j in jobs),
        30,
        what="jobs to report the blocked connection",
    )
    job = cluster.job(jobs[0])
    assert job["state"] == "running"
    assert "re-consent" in job["steps"][0]["last_error"]["message"]
    assert cluster.operator("GET", "/v1/dead-letters").json()["total"] == 0
    # When the operator re-consents, the jobs go on by themselves
    code, out = cluster.cli("connect", "shop", "--auto")
    assert code == 0, out
    assert {cluster.wait_final(j, timeout=120)["state"] for j in jobs} == {"done"}
