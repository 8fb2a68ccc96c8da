"""A chaos run's store and broker on a Sentinel group of its own (`make chaos-ha`).

Three Redis servers (a master and two replicas) and three Sentinels on free 127.0.0.1 ports, in
the run's directory (`tests.support.sentinel.SentinelGroup`, logs kept). orderbridge is pointed at
the group as an operator would point it: `redis_url = "sentinel://...;sentinel://.../0"` with
`redis_master_name`; the broker is the store (no `broker_url`), and `redis_min_replicas` makes
the writes exactly-once rests on wait for a replica's confirmation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.endpoints import parse_redis_url
from core.store import Store
from tests.support.sentinel import SentinelGroup


@dataclass
class SentinelBackend:
    """A `bench.chaos_cluster.StoreBackend` on a Sentinel group started in `workdir`."""

    workdir: Path
    replicas: int = 2
    down_after_ms: int = 3000
    min_replicas: int = 1
    replica_timeout_ms: int = 500
    master_name: str = "orderbridge"
    group: SentinelGroup | None = None

    @property
    def url(self) -> str:
        return self.started.url

    @property
    def started(self) -> SentinelGroup:
        if self.group is None:
            raise RuntimeError("the Sentinel group is not started")
        return self.group

    def settings(self) -> dict[str, Any]:
        return {
            "redis_master_name": self.master_name,
            "redis_min_replicas": self.min_replicas,
            "redis_replica_timeout_ms": self.replica_timeout_ms,
        }

    def start(self) -> float:
        t0 = time.monotonic()
        self.group = SentinelGroup.start(
            self.master_name,
            replicas=self.replicas,
            sentinels=3,
            down_after_ms=self.down_after_ms,
            workdir=self.workdir / "sentinel-group",
        )
        return time.monotonic() - t0

    def stop(self, how: str = "shutdown") -> None:
        """Every process of the group SIGKILLed (nothing is kept across runs anyway)."""
        if self.group is not None:
            self.group.stop()

    def store(self) -> Store:
        """The store through the one client builder, following failovers (no WAIT: the
        bench only reads)."""
        return Store.connect(parse_redis_url(self.url, master_name=self.master_name))
