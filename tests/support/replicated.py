"""`ReplicaFakeRedis`: fakeredis, which has no WAIT, answering WAIT with a replica count the
test sets (`replicas`, or one count per WAIT from `acks`), and counting the WAITs it was sent, for
the in-process tests of writes confirmed by replicas (`core.replicas`). A real master and replica:
`tests.support.sentinel.SentinelGroup.start(sentinels=0)`.
"""

from __future__ import annotations

from typing import Any

import fakeredis
import redis


class _AckingPipeline(redis.client.Pipeline):
    """A fakeredis pipeline whose WAIT is answered by its `ReplicaFakeRedis`."""

    fake: ReplicaFakeRedis

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if args and str(args[0]).upper() == "WAIT":
            return super().execute_command("ECHO", self.fake.next_ack())
        return super().execute_command(*args, **options)


class ReplicaFakeRedis(fakeredis.FakeRedis):
    """fakeredis whose `replicas` confirm every write (or `acks`, one count per WAIT first)."""

    def __init__(self, replicas: int = 1, **kwargs: Any) -> None:
        super().__init__(decode_responses=True, **kwargs)
        self.replicas = replicas
        self.acks: list[int] = []
        self.waits = 0

    def next_ack(self) -> int:
        self.waits += 1
        return self.acks.pop(0) if self.acks else self.replicas

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = _AckingPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.fake = self
        return pipe
