"""The Celery app and the one way work is enqueued, with the settings the guarantees rest on.

The app object exists from import on, but reads no configuration: an entry point calls
`configure(settings)` before it sends or consumes anything.
- acks late + reject on worker lost: a message is acknowledged only after its step has recorded
  its result, so a crash redelivers it (the ledger makes the rerun harmless);
- JSON only; prefetch 1, since steps are long I/O; task events only while Flower watches;
- a visibility timeout well above any step's run time: long waits (backoff, budgets) never hold
  a message, they go to the Redis due-schedule and the sweeper re-enqueues the step when due.
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

import redis
from celery import Celery

from core.settings import Settings
from core.store import JOBS, Store
from schemas.job import Step

QUEUE = "orderbridge"  # periodic tasks and messages whose connection is unknown
TASK_PREFIX = "orderbridge."

app = Celery("orderbridge", set_as_current=False)


def configure(settings: Settings) -> Celery:
    """Point the app at the configured Redis with our delivery settings; returns the app."""
    app.conf.update(
        broker_url=settings.redis_url,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_default_queue=QUEUE,
        worker_prefetch_multiplier=1,
        worker_send_task_events=settings.worker.task_events,
        task_send_sent_event=False,  # a publish per enqueue; Flower learns of tasks on receipt
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.worker.visibility_timeout_seconds,
        },
        beat_schedule={
            "orderbridge-sweep": {"task": task_name("sweep"), "schedule": 10.0},
            "orderbridge-reconcile": {"task": task_name("reconcile"), "schedule": 30.0},
        },
        timezone="UTC",
    )
    global _lookup
    _lookup = _cached_labels(Store.from_url(settings.redis_url))
    return app


def task_name(name: str) -> str:
    return f"{TASK_PREFIX}{name}"


def queue_for(connection: str | None) -> str:
    """A connection's own queue: a worker limited to some connections consumes only theirs.
    Admission (`core.admission`) keeps each one short, so one FIFO per connection is fair."""
    return f"{QUEUE}:{connection}" if connection else QUEUE


def queues(connections: list[str]) -> list[str]:
    """The queues a worker serving `connections` consumes (the shared one included)."""
    return [QUEUE, *(queue_for(name) for name in connections)]


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
