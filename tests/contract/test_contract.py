"""The connector contract, end to end: every registered connector against its simulator over
HTTP, with real Redis and real `orderbridge worker` processes.

Each case counts what the ERP simulator holds afterwards: one customer per customer, one document
per order, whatever failed on the way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.registry import CONNECTORS
from core.store import Store
from simulators.registry import SIMULATORS
from tests.contract.targets import TARGETS, ContractTarget
from tests.support.cluster import Cluster, Simulator, SimulatorPool, poll
from tests.support.factories import customer, order

pytestmark = pytest.mark.e2e


def test_every_connector_with_a_simulator_is_in_the_suite() -> None:
    assert {erp for erp in CONNECTORS if erp in SIMULATORS} == set(TARGETS)


class Contract:
    """A target plus a running cluster on its simulator."""

    def __init__(self, target: ContractTarget, cluster: Cluster) -> None:
        self.target, self.cluster, self.sim = target, cluster, cluster.sim

    def accept(self, body: dict[str, Any]) -> str:
        return self.cluster.accept(body)

    def documents(self) -> list[dict[str, Any]]:
        return self.target.documents(self.sim.state())

    def references(self) -> list[str]:
        return sorted(self.target.reference(d) for d in self.documents())

    def customers(self) -> int:
        return len(self.target.customers(self.sim.state()))

    def creates(self) -> int:
        return self.sim.calls_to(self.target.create_endpoint)

    def finish(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        return self.cluster.wait_final(job_id, timeout)


@pytest.fixture(params=sorted(TARGETS))
def target(request: pytest.FixtureRequest) -> ContractTarget:
    return TARGETS[request.param]


@pytest.fixture
def contract(
    target: ContractTarget, simulators: SimulatorPool, store: Store, tmp_path: Path
) -> Iterator[Callable[..., Contract]]:
    made: list[Cluster] = []

    def make(workers: int = 1, **worker: Any) -> Contract:
        sim: Simulator = simulators.get(target.erp)
        sim.reset()
        cluster = Cluster(tmp_path, sim, store, connection=target.connection(sim), **worker)
        made.append(cluster)
        target.prepare(cluster)
        cluster.start(workers)
        return Contract(target, cluster)

    yield make
    for cluster in made:
        cluster.stop()


def test_happy_path(contract) -> None:
    c: Contract = contract()
    job = c.finish(c.accept(order("K-1001")))
    assert job["state"] == "done", json.dumps(job)
    assert c.references() == ["K-1001"]
    assert c.customers() == 1
    assert job["erp"]["order_id"]


def test_same_order_twice_is_one_job_and_one_document(contract) -> None:
    c: Contract = contract()
    body = order("K-2001")
    first = c.cluster.post_order(body)
    second = c.cluster.post_order(body)
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["job_id"] == second.json()["job_id"]
    assert c.finish(first.json()["job_id"])["state"] == "done"
    assert c.references() == ["K-2001"] and c.creates() == 1


def test_503_three_times_then_works(contract) -> None:
    c: Contract = contract()
    c.sim.fault(match=c.target.create_endpoint, mode="status", status=503, count=3)
    job = c.finish(c.accept(order("K-3001")))
    assert job["state"] == "done", json.dumps(job)
    draft = next(s for s in job["steps"] if s["name"] == "create_draft")
    assert draft["attempts"] == 4 and draft["last_error"]["erp_status"] == 503
    assert c.creates() == 4 and c.references() == ["K-3001"]


@pytest.mark.parametrize("mode", ["commit_then_status", "commit_then_drop"])
def test_commit_then_lost_answer_is_one_document(contract, mode: str) -> None:
    # Given the ERP commits the order but its answer is lost (a 500, or a dropped connection)
    c: Contract = contract()
    c.sim.fault(match=c.target.create_endpoint, mode=mode, status=500, count=1)
    job = c.finish(c.accept(order("K-4001")))
    # Then the retry looks before it writes: exactly one document, and the job knows its id
    assert job["state"] == "done", json.dumps(job)
    assert c.references() == ["K-4001"]
    draft = next(s for s in job["steps"] if s["name"] == "create_draft")
    assert draft["attempts"] == 2 and draft["result"]["recovered"] is True


def test_worker_killed_mid_create_is_one_document(contract) -> None:
    c: Contract = contract(concurrency=2)
    # Given the create is in flight (the ERP is slow to answer)
    c.sim.fault(match=c.target.create_endpoint, mode="latency", ms=3000, count=1)
    job_id = c.accept(order("K-5001"))
    poll(lambda: c.creates() >= 1, 30, what="the create to reach the ERP")
    # When the whole worker is SIGKILLed and a new one starts
    c.cluster.workers[0].kill()
    c.cluster.start_worker()
    # Then the job finishes within the stale time plus retries, with one document
    job = c.finish(job_id, timeout=60)
    assert job["state"] == "done", json.dumps(job)
    assert c.references() == ["K-5001"]


def test_thirty_orders_of_one_new_customer_make_one_customer(contract) -> None:
    c: Contract = contract(workers=2, concurrency=8)
    buyer = customer("c-30", "Kari Nordmann", "kari30@example.no")
    jobs = [c.accept(order(f"K-6{i:03d}", cust=buyer)) for i in range(30)]
    finals = [c.finish(j, timeout=120) for j in jobs]
    assert {f["state"] for f in finals} == {"done"}
    assert c.customers() == 1
    assert c.sim.calls_to(c.target.customer_create_endpoint) == 1
    assert len(c.references()) == 30 and len(set(c.references())) == 30


def test_permanent_error_dead_letter_then_replay_resumes_at_the_failed_step(contract) -> None:
    c: Contract = contract()
    # Given the ERP refuses the create once (validation)
    c.sim.fault(match=c.target.create_endpoint, mode="status", status=400, count=1)
    job_id = c.accept(order("K-7001"))
    dead = c.finish(job_id)
    # Then the job is dead at create_draft with a dead letter naming the ERP's answer
    assert dead["state"] == "dead"
    letters = c.cluster.operator("GET", "/v1/dead-letters").json()
    assert letters["total"] == 1
    letter = letters["items"][0]
    assert (letter["step"], letter["kind"], letter["erp_status"]) == (
        "create_draft",
        "permanent",
        400,
    )
    # When the operator replays it
    replayed = c.cluster.operator("POST", f"/v1/dead-letters/{letter['id']}/replay")
    assert replayed.status_code == 200 and replayed.json()["state"] == "queued"
    job = c.finish(job_id)
    # Then it finishes without repeating the finished steps
    assert job["state"] == "done", json.dumps(job)
    assert c.references() == ["K-7001"]
    steps = {s["name"]: s for s in job["steps"]}
    assert steps["upsert_customer"]["attempts"] == 1
    assert steps["upsert_products"]["attempts"] == 1
    assert steps["create_draft"]["attempts"] == 2
    assert c.sim.calls_to(c.target.customer_create_endpoint) == 1
    assert c.cluster.operator("GET", "/v1/dead-letters").json()["total"] == 0
