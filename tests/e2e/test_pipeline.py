"""End to end into PowerOffice Go: real Redis, real worker processes, simulator over HTTP.

The cases every connector must pass (503s, lost answers, a killed worker, thirty orders of one
customer, dead letter and replay) are in `tests/contract`; these are the pipeline's own.

Each test counts what the ERP simulator holds afterwards: exactly one sales order per order,
whatever failed on the way.
"""

from __future__ import annotations

import pytest

from tests.support.cluster import Cluster, poll
from tests.support.factories import customer, order, product_line, three_line_order

pytestmark = pytest.mark.e2e


def test_happy_path_creates_customer_products_and_one_order(cluster: Cluster) -> None:
    # Given an order for a new customer with 3 new products
    job_id = cluster.accept(three_line_order("1001"))
    job = cluster.wait_final(job_id)
    # Then the ERP holds 1 customer, 3 products, 1 sales order with our reference
    assert job["state"] == "done", __import__("json").dumps(job)
    state = cluster.sim.state()
    assert len(state["Customers"]) == 1
    assert sorted(p["Code"] for p in state["Products"]) == ["SKU-1", "SKU-2", "SKU-3"]
    assert [o["ExternalImportReference"] for o in state["SalesOrders"]] == ["1001"]
    assert job["erp"]["order_id"] == state["SalesOrders"][0]["Id"]
    assert all(s["state"] in ("done", "skipped") for s in job["steps"])
    # When a second order for the same customer arrives, no customer is added
    second = cluster.wait_final(cluster.accept(three_line_order("1002")))
    assert second["state"] == "done"
    state = cluster.sim.state()
    assert len(state["Customers"]) == 1
    assert len(state["Products"]) == 3
    assert len(state["SalesOrders"]) == 2


def test_commit_then_drop_without_reference_uniqueness(cluster: Cluster) -> None:
    # Uniqueness of a sales order's ExternalImportReference is unconfirmed: even if Go would
    # accept the same reference twice, the look-up before the second POST prevents a twin.
    cluster.sim.configure(order_ref_unique=False)
    cluster.sim.fault(match="POST /SalesOrders/Complete", mode="commit_then_drop", count=1)
    job = cluster.wait_final(cluster.accept(order("3101")))
    assert job["state"] == "done", __import__("json").dumps(job)
    assert cluster.sim.count("SalesOrders") == 1


def test_prefork_worker_killed_during_create_draft_recovers(cluster_factory) -> None:
    # The threads pool is covered for every connector by tests/contract; prefork children too
    cluster: Cluster = cluster_factory(pool="prefork", concurrency=2)
    cluster.start_intake()
    worker = cluster.start_worker()
    # Given create_draft is in flight (the ERP is slow to answer)
    cluster.sim.fault(match="POST /SalesOrders/Complete", mode="latency", ms=3000, count=1)
    job_id = cluster.accept(order("4001"))
    poll(
        lambda: cluster.sim.calls_to("POST /SalesOrders/Complete") >= 1,
        30,
        what="the sales order POST to arrive",
    )
    # When the whole worker (main process and any pool children) is SIGKILLed, and a new one
    # starts
    worker.kill()
    cluster.start_worker()
    # Then the job finishes within 2 minutes with exactly one sales order
    job = cluster.wait_final(job_id, timeout=120)
    assert job["state"] == "done"
    assert cluster.sim.count("SalesOrders") == 1


def test_same_order_twice_and_same_job_enqueued_twice(cluster: Cluster) -> None:
    body = order("6001")
    first = cluster.post_order(body)
    again = cluster.post_order(body)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["job_id"] == first.json()["job_id"]
    job_id = first.json()["job_id"]
    # The same job's first step enqueued twice more, as a redelivery would
    for _ in range(2):
        cluster.send_task("orderbridge.upsert_customer", job_id)
    assert cluster.wait_final(job_id)["state"] == "done"
    # Give every extra message the time to be consumed, then count
    poll(lambda: cluster.queued() == 0, 30, what="the queue to drain")
    assert cluster.sim.count("SalesOrders") == 1
    assert cluster.sim.calls_to("POST /SalesOrders/Complete") == 1


def test_rejected_order_is_dead_lettered_and_replay_resumes_at_failed_step(
    cluster: Cluster,
) -> None:
    # Given the ERP rejects the sales order once (400, as for an unknown product)
    cluster.sim.fault(match="POST /SalesOrders/Complete", mode="status", status=400, count=1)
    job_id = cluster.accept(three_line_order("7001"))
    job = cluster.wait_final(job_id)
    # Then a dead letter names step, kind and the ERP's message, and no retries were burned
    assert job["state"] == "dead"
    letters = cluster.operator("GET", "/v1/dead-letters").json()
    assert letters["total"] == 1
    letter = letters["items"][0]
    assert (letter["job_id"], letter["step"], letter["kind"], letter["erp_status"]) == (
        job_id,
        "create_draft",
        "permanent",
        400,
    )
    assert letter["erp_response"]["detail"] in letter["message"]
    assert letter["attempts"] == 1
    assert cluster.sim.calls_to("POST /SalesOrders/Complete") == 1
    before = cluster.sim.calls()["by_endpoint"]
    # When the cause is gone (the fault is used up) and the operator replays
    code, out = cluster.cli("dlq", "replay", letter["id"])
    assert code == 0, out
    job = cluster.wait_final(job_id)
    assert job["state"] == "done"
    # Then only create_draft ran again: no customer or product call was repeated
    after = cluster.sim.calls()["by_endpoint"]
    for endpoint in ("GET /Customers", "POST /Customers", "GET /Products", "POST /Products"):
        assert after.get(endpoint, 0) == before.get(endpoint, 0), endpoint
    assert after["POST /SalesOrders/Complete"] == before["POST /SalesOrders/Complete"] + 1
    assert cluster.sim.count("SalesOrders") == 1
    assert cluster.operator("GET", "/v1/dead-letters").json()["total"] == 0


def test_replay_over_http_sets_job_queued_before_answering(cluster: Cluster) -> None:
    cluster.sim.fault(match="POST /SalesOrders/Complete", mode="status", status=422, count=1)
    job_id = cluster.accept(order("7201"))
    assert cluster.wait_final(job_id)["state"] == "dead"
    letter = cluster.operator("GET", "/v1/dead-letters").json()["items"][0]
    cluster.workers[0].stop()  # so nothing can move the job on before we look
    answer = cluster.operator("POST", f"/v1/dead-letters/{letter['id']}/replay")
    assert answer.status_code == 200, answer.text
    assert cluster.job(job_id)["state"] == "queued"
    cluster.start_worker()
    assert cluster.wait_final(job_id)["state"] == "done"
    assert cluster.sim.count("SalesOrders") == 1


def test_article_deleted_in_erp_is_created_again(cluster: Cluster) -> None:
    # Given the articles are cached as known, but one was deleted in the ERP meanwhile (with
    # the draft that used it, since Go refuses to delete an article in use)
    first = cluster.wait_final(cluster.accept(three_line_order("7101")))
    assert first["state"] == "done"
    assert cluster.sim.api("DELETE", f"/SalesOrders/{first['erp']['order_id']}").status_code == 200
    gone = next(p for p in cluster.sim.state()["Products"] if p["Code"] == "SKU-2")
    assert cluster.sim.api("DELETE", f"/Products/{gone['Id']}").status_code == 200
    # When the next order uses it, the ERP answers "Product ... not found"
    job = cluster.wait_final(cluster.accept(three_line_order("7102")))
    # Then we forget the cached ids, create the article again and finish the order
    assert job["state"] == "done", __import__("json").dumps(job)
    assert sorted(p["Code"] for p in cluster.sim.state()["Products"]) == ["SKU-1", "SKU-2", "SKU-3"]
    assert cluster.sim.count("SalesOrders") == 1
    draft = next(s for s in job["steps"] if s["name"] == "create_draft")
    assert draft["result"]["refreshed_product"] is True


def test_customer_unknown_to_a_fresh_erp_is_created_again(cluster: Cluster) -> None:
    assert cluster.wait_final(cluster.accept(order("7301")))["state"] == "done"
    cluster.sim.reset()  # the ERP forgets everything; our cache still has the ids
    job = cluster.wait_final(cluster.accept(order("7302")))
    assert job["state"] == "done", __import__("json").dumps(job)
    state = cluster.sim.state()
    assert len(state["Customers"]) == 1 and len(state["SalesOrders"]) == 1


def test_send_invoice_when_asked(cluster: Cluster) -> None:
    job = cluster.wait_final(cluster.accept(order("8001", send_invoice=True)))
    assert job["state"] == "done", __import__("json").dumps(job)
    state = cluster.sim.state()
    assert len(state["OutgoingInvoices"]) == 1
    assert state["OutgoingInvoices"][0]["Id"] == job["erp"]["order_id"]
    assert job["erp"]["invoice_number"]
    assert cluster.sim.calls_to("POST /SalesOrders/{id}/createAndSendInvoice") == 1


def test_logs_carry_ids_but_no_secrets_or_personal_data(cluster: Cluster) -> None:
    cust = customer("c-log", "Solveig Secretsen", "solveig@example.no", phone="+4799988877")
    job_id = cluster.accept(order("8101", cust=cust, send_invoice=True))
    assert cluster.wait_final(job_id)["state"] == "done"
    logs = "".join((cluster.tmp / name).read_text() for name in ("worker0.log", "intake.log"))
    assert job_id in logs and "step.done" in logs
    for secret in (
        "demo-client-key",
        "demo-app-key",
        "demo-subscription-key",
        "shop-token",
        "op-token",
        "Bearer ",
        "solveig@example.no",
        "Secretsen",
        "+4799988877",
    ):
        assert secret not in logs, secret


def test_dlq_cli_list_show_drop_and_replay_all(cluster: Cluster) -> None:
    cluster.sim.fault(match="POST /SalesOrders/Complete", mode="status", status=400, count=3)
    jobs = [cluster.accept(order(f"880{i}")) for i in range(3)]
    assert [cluster.wait_final(j)["state"] for j in jobs] == ["dead"] * 3
    code, listing = cluster.cli("dlq", "list")
    assert code == 0 and "dead letters (3)" in listing and "create_draft" in listing
    letters = cluster.operator("GET", "/v1/dead-letters").json()["items"]
    code, shown = cluster.cli("dlq", "show", letters[0]["id"])
    assert code == 0 and letters[0]["job_id"] in shown
    code, _ = cluster.cli("dlq", "drop", letters[0]["id"])
    assert code == 0
    assert cluster.cli("dlq", "show", letters[0]["id"])[0] == 1
    code, out = cluster.cli("dlq", "replay", "--all")
    assert code == 0 and "replayed 2" in out
    finals = {j: cluster.wait_final(j)["state"] for j in jobs}
    assert finals[letters[0]["job_id"]] == "dead"  # dropped: stays dead
    assert sorted(finals.values()) == ["dead", "done", "done"]
    assert cluster.sim.count("SalesOrders") == 2


def test_cli_enqueue_submits_valid_orders_and_names_bad_fields(cluster: Cluster) -> None:
    bad = order("9901", lines=[product_line("A", quantity="-1")])
    path = cluster.tmp / "orders.json"
    path.write_text(__import__("json").dumps([order("9900"), bad]))
    code, out = cluster.cli("enqueue", "--connection", "shop", str(path))
    assert code == 1 and "lines.0.quantity" in out and "accepted" in out, out
    job_id = cluster.store.job_id_for("shop", "9900")
    assert job_id and cluster.wait_final(job_id)["state"] == "done"
    assert cluster.store.job_id_for("shop", "9901") is None
    code, out = cluster.cli("status", job_id)
    assert code == 0 and '"state": "done"' in out
