"""Writes that exactly-once rests on, confirmed by replicas before anything depends on them.

Redis replicates asynchronously: a write the master acknowledged can vanish in a failover if no
replica had it yet. `WAIT numreplicas timeout` blocks until that many replicas have every write
the *same connection* made so far (replication is one stream, so earlier writes of other
connections are covered too), and it never waits inside MULTI or a Lua script. So a confirmed
write is a pipeline without a transaction, on one connection: the script (or commands), then
WAIT, the replies read together. A write no replica confirmed raises `NotReplicated`, a
transient failure like a Redis outage: try again later, never go on to an ERP call.

With `min_replicas = 0` (the default) nothing waits and nothing is sent beyond the writes.
"""

from __future__ import annotations

from typing import Any

import redis


class NotReplicated(redis.exceptions.RedisError):
    """Fewer replicas than required confirmed a write in time: it may be lost in a failover.
    Transient (the intake answers 503, a step comes back later); the write itself may still be
    on the master, so whatever retries must not assume either way."""


class Replication:
    """How many replicas must confirm a write and how long to wait for them; also how many
    confirmations in a row have failed (process-wide: replicas away are everyone's problem),
    which the step runner uses to back off."""

    def __init__(self, min_replicas: int = 0, timeout_ms: int = 500) -> None:
        if min_replicas < 0 or timeout_ms <= 0:
            raise ValueError("min_replicas must be >= 0 and timeout_ms > 0")
        self.min_replicas = min_replicas
        self.timeout_ms = timeout_ms
        self.failures_in_a_row = 0

    @property
    def required(self) -> bool:
        return self.min_replicas > 0

    def execute(self, pipe: redis.client.Pipeline, what: str) -> list[Any]:
        """Run `pipe` (made with `transaction=False`) and WAIT on its connection in the same
        round trip; `NotReplicated` unless enough replicas confirmed. The replies of `pipe`'s
        own commands."""
        replies, confirmed = self.run(pipe)
        self.check(confirmed, what)
        return replies

    def run(self, pipe: redis.client.Pipeline) -> tuple[list[Any], int]:
        """`execute` for a caller that decides from the replies whether the write mattered:
        the replies and how many replicas confirmed (`min_replicas` when none are required,
        and then no WAIT is sent)."""
        if not self.required:
            return list(pipe.execute()), 0
        pipe.execute_command("WAIT", self.min_replicas, self.timeout_ms)  # type: ignore[no-untyped-call]
        replies = list(pipe.execute())
        return replies, int(replies.pop())

    def check(self, confirmed: int, what: str) -> None:
        """Raise `NotReplicated` unless `confirmed` replicas are enough."""
        if confirmed >= self.min_replicas:
            self.failures_in_a_row = 0
            return
        self.failures_in_a_row += 1
        raise NotReplicated(
            f"{what}: {confirmed} of {self.min_replicas} replicas confirmed it within "
            f"{self.timeout_ms} ms"
        )


def replicas_connected(client: redis.Redis) -> int | None:
    """How many replicas the master has connected now (`INFO replication`), or None when it
    cannot be read (Redis away: the first write will say so)."""
    try:
        info = client.info("replication")
    except redis.exceptions.RedisError:
        return None
    connected = info.get("connected_slaves") if isinstance(info, dict) else None
    return int(connected) if isinstance(connected, int) else None
