"""The store and the broker follow a Sentinel failover (issue 18, connection settings).

Given a group of our own (master, one replica, three Sentinels), a Store built from the sentinel
URL by the one client builder, and a process whose Celery app `core.broker.configure` set up
with the same URL: SIGKILL the master. The same Store object works again against the promoted
replica within `down-after-milliseconds` + 10 s, scripts included, with what was written before
the kill (once the replica had it), and the same Celery app publishes to the new master.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from core.settings import parse_settings
from core.store import DUE, Store
from tests.support.polling import poll
from tests.support.sentinel import REDIS_SERVER, Publisher, SentinelGroup

DOWN_AFTER_MS = 3000
QUEUE = "sentinel-probe"
PROBE_KEY = "sentinel-probe:written"  # not a store key: only this test writes it

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="no redis-server on this machine")


@pytest.fixture
def group() -> Iterator[SentinelGroup]:
    with SentinelGroup.start(down_after_ms=DOWN_AFTER_MS) as started:
        yield started


def works(store: Store, key: str) -> bool:
    """One write and one read through the store's client; False while Redis is away."""
    try:
        store.redis.set(key, "after")
        return bool(store.redis.get(key) == "after")
    except redis.RedisError:
        return False


def test_store_and_broker_follow_a_failover(group: SentinelGroup) -> None:
    started = time.monotonic()
    env = {"ORDERBRIDGE_REDIS_URL": group.url, "ORDERBRIDGE_REDIS_MASTER_NAME": group.master_name}
    settings = parse_settings({}, env)
    store = Store.connect(settings.store_endpoint)
    publisher = Publisher(env)
    try:
        # Given a job's mark and one message written through the group, on the replica too
        store.set_due("job-1", 1234.0)
        assert (
            store.claim_due(now=0.0, hold_until=0.0) == []
        )  # a script: only the old master caches it
        assert publisher.send(QUEUE, timeout=20) == "sent"
        old = group.master()
        replica = next(s for s in group.servers if s is not old)
        poll(
            lambda: (
                replica.client().zscore(DUE.key(), "job-1") == 1234.0
                and replica.client().llen(QUEUE) == 1
            ),
            10,
            what="the replica to have the writes",
        )

        # When the master dies without a word
        old.kill()
        killed = time.monotonic()

        # Then the same Store object works against the promoted replica
        poll(lambda: works(store, PROBE_KEY), DOWN_AFTER_MS / 1000 + 10, 0.2, "the store")
        recovered = time.monotonic() - killed
        new = group.wait_for_new_master(old, timeout=5)
        assert new is replica
        assert store.claim_due(now=2000.0, hold_until=5000.0) == ["job-1"]  # loaded anew
        assert store.due_at("job-1") == 5000.0
        assert replica.client().get(PROBE_KEY) == b"after"

        # And the same Celery app publishes to the new master
        assert publisher.send(QUEUE, timeout=20) == "sent"
        assert replica.client().llen(QUEUE) == 2
        print(
            f"store back {recovered:.1f} s after the kill; test {time.monotonic() - started:.1f} s"
        )
    finally:
        publisher.stop()
        store.redis.close()
