"""RabbitMQ as the broker, end to end: the machine's RabbitMQ (127.0.0.1:5672) carries the
messages, the store stays Redis; intake, `orderbridge worker` processes and the PowerOffice
simulator as in every e2e test. Each cluster has queues of its own on the shared vhost
(`queue_name`), deleted when it stops; the node itself is never changed.

What RabbitMQ does differently from Redis, checked here: the queues are quorum queues, a worker
consumes them (no global QoS, no 540 refusal), remote control reaches the workers on our own
exchanges, and a message a SIGKILLed worker held unacknowledged is back in its queue as soon as
the worker's connection is gone (no visibility timeout).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from celery import Celery

from core import broker
from core.settings import load_settings
from core.store import SENT
from tests.support.cluster import Cluster, poll
from tests.support.factories import order
from tests.support.rabbitmq import AMQP_URL, is_quorum_queue, names_of, queue_depth
from workers.processes import port_open

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not port_open(5672), reason="no RabbitMQ on 127.0.0.1:5672"),
]


@pytest.fixture
def rabbit(cluster_factory: Callable[..., Cluster]) -> Cluster:
    return cluster_factory(broker_url=AMQP_URL)


def test_orders_go_through_quorum_queues_exactly_once(rabbit: Cluster) -> None:
    rabbit.start(workers=2)
    jobs = [rabbit.accept(order(f"R-{i}")) for i in range(12)]
    finals = [rabbit.wait_final(job_id) for job_id in jobs]
    assert [j["state"] for j in finals] == ["done"] * 12, json.dumps(finals[0])
    references = sorted(o["ExternalImportReference"] for o in rabbit.sim.state()["SalesOrders"])
    assert references == sorted(f"R-{i}" for i in range(12))
    # Both queues a message went through are quorum queues, now empty; nothing left unclaimed
    for queue in (rabbit.queue(), rabbit.queue("shop")):
        assert is_quorum_queue(queue), queue
    assert rabbit.queued("shop") == 0
    assert rabbit.store.redis.hlen(SENT.key()) == 0
    # Remote control (as Flower uses it) reaches both workers on the installation's exchanges
    control = Celery(set_as_current=False)
    control.conf.update(broker.broker_options(load_settings(str(rabbit.config), rabbit.env)))
    replies = control.control.ping(timeout=3)
    assert len(replies) == 2, replies


def test_a_sigkilled_workers_message_is_back_in_its_queue_at_once(rabbit: Cluster) -> None:
    rabbit.start_intake()
    worker = rabbit.start_worker()
    # Given the worker is inside create_draft (the ERP is slow to answer), its message unacked
    rabbit.sim.fault(match="POST /SalesOrders/Complete", mode="latency", ms=3000, count=1)
    job_id = rabbit.accept(order("R-900"))
    poll(
        lambda: rabbit.sim.calls_to("POST /SalesOrders/Complete") >= 1,
        30,
        what="the sales order POST to arrive",
    )
    assert rabbit.queued("shop") == 0
    # When the whole worker is SIGKILLed, with no other worker running
    worker.kill()
    # Then RabbitMQ puts the message back at once (no visibility timeout to wait out)
    poll(lambda: rabbit.queued("shop") == 1, 15, what="the unacked message to be requeued")
    # And a new worker finishes the job with exactly one sales order
    rabbit.start_worker()
    assert rabbit.wait_final(job_id, timeout=90)["state"] == "done"
    assert rabbit.sim.count("SalesOrders") == 1
    poll(lambda: queue_depth(rabbit.queue("shop")) == 0, 15, what="the queue to drain")


def test_a_stopped_cluster_leaves_nothing_on_the_broker(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(broker_url=AMQP_URL)
    cluster.start()
    assert cluster.wait_final(cluster.accept(order("R-950")))["state"] == "done"
    assert is_quorum_queue(cluster.queue("shop"))
    cluster.stop()
    assert all(queue_depth(q) is None for q in names_of(cluster.queue_name, ["shop"])[0])
