"""What Celery needs to use RabbitMQ quorum queues as our broker (`broker_url = "amqp://..."`).

- Every queue is a quorum queue (replicated, leader elected on failover): the shared queue and
  each connection's, however they are declared (a worker's `-Q`, a publish from the intake or
  a dispatcher, Flower). A declaration that differs from the existing queue is refused by the
  broker, so all of them come from the one configuration `core.broker.configure` applies.
- Publisher confirms: a publish returns once the queue's majority holds the message, and waits
  at most `CONFIRM_TIMEOUT_SECONDS` (no leader, no majority: the publish fails and the sweeper
  sends the job again later, as for any lost message).
- Prefetch per consumer: a quorum queue refuses global QoS, so each queue's consumer gets the
  worker's prefetch (Celery's `worker_detect_quorum_queues`).
- No native delayed delivery: Celery would declare `celery_delayed_*` queues and exchanges
  shared by the whole vhost. We never send a step with a countdown (waits live in the Redis
  due-schedule); the one-second-to-a-minute retries of lifecycle events are held by the worker
  as ETA tasks, as on Redis.
- Remote control and events travel on exchanges named after our queue, so two installations
  sharing a vhost neither see nor steer each other's workers.
"""

from __future__ import annotations

from typing import Any

from celery.worker.consumer import Consumer

from core.endpoints import AmqpEndpoint

CONFIRM_TIMEOUT_SECONDS = 10.0
HEARTBEAT_SECONDS = 10  # a broker gone silent (a partition) is noticed within two of these


class QuorumConsumer(Consumer):  # type: ignore[misc]
    """Celery's consumer without the native delayed delivery bootstep (see the module doc)."""

    class Blueprint(Consumer.Blueprint):  # type: ignore[misc]
        default_steps = [
            step
            for step in Consumer.Blueprint.default_steps
            if not step.endswith(":DelayedDelivery")
        ]


def rabbitmq_options(endpoint: AmqpEndpoint, queue: str) -> dict[str, Any]:
    """Celery settings for a RabbitMQ broker whose queues are named after `queue`."""
    return {
        "broker_url": endpoint.url,
        "broker_transport_options": {"confirm_publish": True},
        "broker_heartbeat": HEARTBEAT_SECONDS,
        "task_default_queue_type": "quorum",
        "task_create_missing_queue_type": "quorum",
        "worker_detect_quorum_queues": True,
        "worker_consumer": f"{__name__}:QuorumConsumer",
        "control_exchange": queue,
        "event_exchange": f"{queue}.events",
    }


def publish_options() -> dict[str, Any]:
    """Per publish: how long to wait for the broker's confirm."""
    return {"confirm_timeout": CONFIRM_TIMEOUT_SECONDS}
