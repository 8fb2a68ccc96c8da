"""End to end with `redis_min_replicas = 1` on a private master and replica: while the replica
is paused (SIGSTOP) nothing the exactly-once rests on is confirmed, so the intake refuses new
orders with 503 and no worker writes to the ERP; once it runs again, every order goes into the
ERP exactly once.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.replicas import NotReplicated, Replication
from core.store import Store
from tests.support.cluster import Cluster, Simulator, poll
from tests.support.factories import order
from tests.support.sentinel import SentinelGroup

pytestmark = pytest.mark.e2e

OBSERVE_SECONDS = 10.0
WRITES = ("POST ", "PUT ", "PATCH ", "DELETE ")


def erp_writes(sim: Simulator) -> int:
    """Calls that could change the ERP (the token endpoint excepted)."""
    by_endpoint: dict[str, int] = sim.calls()["by_endpoint"]
    return sum(n for e, n in by_endpoint.items() if e.startswith(WRITES) and "/OAuth/" not in e)


def test_a_paused_replica_stops_intake_and_erp_writes_until_it_returns(
    tmp_path: Path, sim: Simulator
) -> None:
    with SentinelGroup.start(sentinels=0) as group:
        replica = group.servers[1]
        store = Store(group.servers[0].client(timeout=5, decode=True))
        cluster = Cluster(
            tmp_path,
            sim,
            store,
            redis_url=group.master_url,
            orderbridge={"redis_min_replicas": 1, "redis_replica_timeout_ms": 300},
        )
        try:
            # Given an order accepted (and confirmed) before any worker runs
            cluster.start_intake()
            before = cluster.accept(order("3001"))
            # When the replica stops, a new order is refused and the worker starts
            replica.pause()
            refused = cluster.post_order(order("3002"))
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "5"
            assert refused.json()["error"]["code"] == "unavailable"
            cluster.start_worker()
            # Then nothing is written to the ERP while it is away, though the worker tries
            deadline = time.monotonic() + OBSERVE_SECONDS
            while time.monotonic() < deadline:
                assert erp_writes(sim) == 0, sim.calls()["by_endpoint"]
                time.sleep(0.5)
            assert "step.unconfirmed" in (tmp_path / "worker0.log").read_text()
            assert cluster.job(before)["state"] not in ("done", "duplicate")
            # When it runs again, the shop's retry is answered and both orders go in, once
            replica.resume()
            retried = poll(
                lambda: (r := cluster.post_order(order("3002"))).status_code in (200, 202) and r,
                15,
                0.5,
                "the refused order's retry to be accepted",
            )
            after = str(retried.json()["job_id"])
            assert cluster.wait_final(before, 30)["state"] == "done"
            assert cluster.wait_final(after, 30)["state"] == "done"
            state = sim.state()
            references = sorted(o["ExternalImportReference"] for o in state["SalesOrders"])
            assert references == ["3001", "3002"]
            assert len(state["Customers"]) == 1
        finally:
            cluster.stop()


def test_wait_on_a_real_replica_confirms_and_a_paused_one_does_not() -> None:
    with SentinelGroup.start(sentinels=0) as group:
        replica = group.servers[1]
        store = Store(group.servers[0].client(timeout=5, decode=True), Replication(1, 200))
        assert store.take_lease("j1", "t", 5, time.time() + 5) == (True, None)
        replica.pause()
        try:
            with pytest.raises(NotReplicated):
                store.take_lease("j2", "t", 5, time.time() + 5)
            assert not store.redis.exists(store.lease_key("j2"))  # let go again
        finally:
            replica.resume()
