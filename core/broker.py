"""The Celery app and the one way work is enqueued, with the settings the guarantees rest on.

The app object exists from import on, but reads no configuration: an entry point calls
`configure(settings)` before it sends or consumes anything.
- acks late + reject on worker lost: a message is acknowledged only after its step has recorded
  its result, so a crash redelivers it (the ledger makes the rerun harmless);
- JSON only; prefetch 1, since steps are long I/O; task events only while Flower watches;
- a visibility timeout well above any step's run time: long waits (backoff, budgets) never hold
  a message, they go to the Redis due-schedule and the sweeper re-enqueues the step when due;
- the broker is the store's Redis unless `broker_url` names another (a Redis server, a Sentinel
  group, RabbitMQ); a connection lost (a failover) is retried without end, channel errors
  included, and a Redis broker's sockets time out and are health-checked (see `broker_options`);
  RabbitMQ's queues are quorum queues and every publish is confirmed (`core.rabbitmq`);
- the queues are named after `queue_name` (default `orderbridge`): that one for messages without
  a connection, `NAME:connection` for each connection's.
Tasks are sent by name, so this module never imports the task code (`tasks.pipeline`).

Every message names its job's connection and order reference besides the job id (keyword
arguments), so an operator finds an order in Flower's task list without opening Redis. They are
looked up here, once per job and process, from the job record; never personal data.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import quote

import redis
from celery import Celery

from core.endpoints import AmqpEndpoint, RedisEndpoint, with_password
from core.rabbitmq import publish_options, rabbitmq_options
from core.redis_client import (
    CONNECT_TIMEOUT_SECONDS,
    HEALTH_CHECK_SECONDS,
    SOCKET_TIMEOUT_SECONDS,
    sentinel_options,
)
from core.settings import Settings
from core.store import JOBS, Store
from schemas.job import Step

QUEUE = "orderbridge"  # the default `queue_name`
TASK_PREFIX = "orderbridge."

app = Celery("orderbridge", set_as_current=False)
_queue = QUEUE  # set by configure(): periodic tasks and messages whose connection is unknown
_publish: dict[str, Any] = {}  # set by configure(): options of every publish


def configure(settings: Settings) -> Celery:
    """Point the app at the configured broker with our delivery settings; returns the app."""
    app.conf.update(
        **broker_options(settings),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_default_queue=settings.queue_name,
        worker_prefetch_multiplier=1,
        worker_send_task_events=settings.worker.task_events,
        task_send_sent_event=False,  # a publish per enqueue; Flower learns of tasks on receipt
        worker_hijack_root_logger=False,
        beat_schedule={
            "orderbridge-sweep": {"task": task_name("sweep"), "schedule": 10.0},
            "orderbridge-reconcile": {"task": task_name("reconcile"), "schedule": 30.0},
        },
        timezone="UTC",
    )
    global _lookup, _queue, _publish
    _lookup = _cached_labels(Store.connect(settings.store_endpoint))
    _queue = settings.queue_name
    _publish = publish_options() if isinstance(settings.broker_endpoint, AmqpEndpoint) else {}
    return app


def broker_options(settings: Settings) -> dict[str, Any]:
    """Celery's broker settings: the URL as kombu reads it and what survives a failover.

    Kombu reads a Sentinel group's database and password from its first member only, so every
    member is written with them; the master's name and the Sentinels' password travel in the
    transport options. Celery stops retrying a lost broker connection after 100 attempts
    unless told otherwise, and a channel error (a failover mid-command) would end a worker."""
    endpoint = settings.broker_endpoint
    options: dict[str, Any] = {
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_channel_error_retry": True,
    }
    if isinstance(endpoint, AmqpEndpoint):
        return {**options, **rabbitmq_options(endpoint, settings.queue_name)}
    transport: dict[str, Any] = {
        "visibility_timeout": settings.worker.visibility_timeout_seconds,
        "socket_timeout": SOCKET_TIMEOUT_SECONDS,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "health_check_interval": HEALTH_CHECK_SECONDS,
    }
    if endpoint.is_sentinel:
        transport["master_name"] = endpoint.master_name
        transport["sentinel_kwargs"] = sentinel_options(endpoint)
    return {**options, "broker_url": kombu_url(endpoint), "broker_transport_options": transport}


def kombu_url(endpoint: RedisEndpoint) -> str:
    """The endpoint's URL with its password in it (kombu takes it from nowhere else)."""
    if not endpoint.is_sentinel:  # its password is in the URL, or given apart
        return (
            endpoint.url
            if endpoint.password is None
            else with_password(endpoint.url, endpoint.password)
        )
    login = ""
    if endpoint.password is not None:
        login = f"{quote(endpoint.username or '', safe='')}:{quote(endpoint.password, safe='')}@"
    return ";".join(
        f"sentinel://{login}{f'[{host}]' if ':' in host else host}:{port}/{endpoint.db}"
        for host, port in endpoint.sentinels
    )


def task_name(name: str) -> str:
    return f"{TASK_PREFIX}{name}"


def queue_for(connection: str | None) -> str:
    """A connection's own queue: a worker limited to some connections consumes only theirs.
    Admission (`core.admission`) keeps each one short, so one FIFO per connection is fair."""
    return f"{_queue}:{connection}" if connection else _queue


def queues(connections: list[str]) -> list[str]:
    """The queues a worker serving `connections` consumes (the shared one included)."""
    return [_queue, *(queue_for(name) for name in connections)]


Labels = tuple[str, str]  # (connection, order reference)
_STEPS = frozenset(str(step) for step in Step)
_lookup: Callable[[str], Labels | None] | None = None  # set by configure()


def task_kwargs(name: str, job_id: str, labels: Labels | None) -> dict[str, str]:
    """The keyword arguments of a job's message: what Flower shows and searches (`kwargs:`)."""
    kwargs = {"job_id": str(job_id)}
    if labels is not None:
        kwargs["connection"], kwargs["reference"] = labels
    if str(name) in _STEPS:
        kwargs["step"] = str(name)
    return kwargs


def enqueue(
    name: str, job_id: str, sent_at: float | None = None, labels: Labels | None = None
) -> None:
    """Send the task `name` (a step or a lifecycle event) for one job. `sent_at` travels in a
    header, so the sweeper can tell how old the oldest waiting message is; `labels` (connection,
    reference) are looked up from the job when the caller does not give them."""
    if labels is None and _lookup is not None:
        labels = _lookup(job_id)
    app.send_task(
        task_name(name),
        kwargs=task_kwargs(name, job_id, labels),
        queue=queue_for(labels[0] if labels else None),
        headers={"ob_sent_at": time.time() if sent_at is None else sent_at},
        **_publish,
    )


def _cached_labels(store: Store, size: int = 4096) -> Callable[[str], Labels | None]:
    """A job's (connection, reference), read once per process: they never change, and a job is
    enqueued again by the same process (retries, the steps after an inline run's deadline)."""

    @functools.lru_cache(maxsize=size)
    def cached(job_id: str) -> Labels:
        raw = cast("str | None", store.redis.get(JOBS.key(job_id)))
        if not raw:
            raise LookupError(job_id)  # not cached: a job created later is labelled then
        job: dict[str, Any] = json.loads(raw)
        return str(job["connection"]), str(job["reference"])

    def labels(job_id: str) -> Labels | None:
        try:
            return cached(job_id)
        except (LookupError, ValueError, redis.RedisError):
            return None  # an unlabelled message still runs; only Flower shows less

    return labels
