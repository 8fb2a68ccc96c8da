"""Shared fixtures: real Redis, real simulator processes, real worker processes.

The classes behind them live in `tests/support/cluster.py`; tests import from there, never from
this file. End-to-end tests build a `Cluster`: a config file, the PowerOffice simulator on a free
port, an intake process and N `orderbridge worker` processes, all on 127.0.0.1, on this xdist
process's own Redis database (flushed before each test). Readiness is polled with deadlines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

pytest.register_assert_rewrite("tests.support")

from core.store import Store  # noqa: E402  (after the assert rewrite is registered)
from tests.support.cluster import (  # noqa: E402
    REDIS_URL,
    ROOT,
    Cluster,
    Simulator,
    SimulatorPool,
)
from tests.support.fakes import fake_store  # noqa: E402

# Tests that start the shipped example config, which binds its published ports (8000, 18081-84):
# they run one after the other in one xdist process. Every other test uses free ports and its
# process's own Redis database.
EXAMPLE_PORTS = {"test_up.py", "test_demo.py"}


def pytest_itemcollected(item: pytest.Item) -> None:
    """One xdist group per test module (`--dist loadgroup` keeps a group in one process, in
    order), so a module's tests share its module-scoped fixtures and may build on each other, as
    the fairness scenarios do; the example-port tests form one group. Marked as each test is
    collected, before xdist reads the groups."""
    path = Path(str(item.fspath))
    group = "example-ports" if path.name in EXAMPLE_PORTS else str(path.relative_to(ROOT))
    item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def store(redis_client: redis.Redis) -> Store:
    return Store(redis_client)


@pytest.fixture
def memory_store() -> Store:
    """A store on fakeredis, for unit tests."""
    return fake_store()


@pytest.fixture(scope="session")
def simulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorPool]:
    pool = SimulatorPool(tmp_path_factory.mktemp("sims"))
    yield pool
    pool.stop()


@pytest.fixture(scope="session")
def simulator(simulators: SimulatorPool) -> Simulator:
    return simulators.get("poweroffice")


@pytest.fixture
def sim(simulator: Simulator) -> Simulator:
    simulator.reset()
    return simulator


@pytest.fixture
def cluster_factory(
    tmp_path: Path, sim: Simulator, store: Store
) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(**options: Any) -> Cluster:
        cluster = Cluster(tmp_path, sim, store, **options)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.stop()


@pytest.fixture
def cluster(cluster_factory: Callable[..., Cluster]) -> Cluster:
    """Intake plus one worker, default options."""
    c = cluster_factory()
    c.start()
    return c
