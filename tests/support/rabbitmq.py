"""The machine's RabbitMQ as a test broker: names of our own on its shared vhost, removed after.

The suite never changes the node (no vhosts, users or policies): each cluster gets a queue name
of its own (`queue_name`, so its queues and exchanges are `obtest-<random>...`) and deletes
them when it stops. `ORDERBRIDGE_TEST_BROKER=amqp` runs the e2e and contract suites with it as
the broker (see `tests/support/cluster.py`); `ORDERBRIDGE_TEST_AMQP_URL` names another.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable

from amqp.exceptions import NotFound, PreconditionFailed
from kombu import Connection

AMQP_URL = os.environ.get("ORDERBRIDGE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
BROKER_IS_AMQP = os.environ.get("ORDERBRIDGE_TEST_BROKER", "redis") == "amqp"


def unique_queue_name() -> str:
    return f"obtest-{uuid.uuid4().hex[:12]}"


def names_of(queue_name: str, connections: Iterable[str]) -> tuple[list[str], list[str]]:
    """(queues, exchanges) an installation named `queue_name` declares on the broker: a queue
    and a direct exchange of that name per queue, and its control and event exchanges."""
    queues = [queue_name, *(f"{queue_name}:{c}" for c in connections)]
    exchanges = [
        *queues,
        f"{queue_name}.events",
        f"{queue_name}.pidbox",
        f"reply.{queue_name}.pidbox",
    ]
    return queues, exchanges


def delete_names(queue_name: str, connections: Iterable[str], url: str = AMQP_URL) -> None:
    """Delete what `names_of` lists (deleting a missing one is no error)."""
    queues, exchanges = names_of(queue_name, connections)
    with Connection(url) as conn:
        channel = conn.channel()
        for name in queues:
            channel.queue_delete(name)
        for name in exchanges:
            channel.exchange_delete(name)


def queue_depth(name: str, url: str = AMQP_URL) -> int | None:
    """Messages ready in the queue (not those a consumer holds unacknowledged); None: no queue."""
    with Connection(url) as conn:
        with contextlib.suppress(NotFound):
            return int(conn.channel().queue_declare(name, passive=True).message_count)
    return None


def is_quorum_queue(name: str, url: str = AMQP_URL) -> bool:
    """The queue exists and is a quorum queue: declaring it again as one is accepted only then
    (RabbitMQ answers 406 PRECONDITION_FAILED to a declaration that differs)."""
    if queue_depth(name, url) is None:
        return False  # checked first: the declaration below would create it
    with Connection(url) as conn:
        try:
            conn.channel().queue_declare(
                name, durable=True, auto_delete=False, arguments={"x-queue-type": "quorum"}
            )
        except PreconditionFailed:
            return False
    return True
