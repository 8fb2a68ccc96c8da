"""The Celery app and the one way work is enqueued, with the settings the guarantees rest on.

The app object exists from import on, but reads no configuration: an entry point calls
`configure(settings)` before it sends or consumes anything.
- acks late + reject on worker lost: a message is acknowledged only after its step has recorded
  its result, so a crash redelivers it (the ledger makes the rerun harmless);
- JSON only; prefetch 1, since steps are long I/O; task events only while Flower watches;
- a visibility timeout well above any step's run time: long waits (backoff, budgets) never hold
  a message, they go to the Redis due-schedule and the sweeper re-enqueues the step when due.
Tasks are sent by name, so this module never imports the task code (`tasks.pipeline`).
"""

from __future__ import annotations

import time

from celery import Celery

from core.settings import Settings

QUEUE = "orderbridge"
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
    return app


def task_name(name: str) -> str:
    return f"{TASK_PREFIX}{name}"


def enqueue(name: str, job_id: str, sent_at: float | None = None) -> None:
    """Send the task `name` (a step or a lifecycle event) for one job. `sent_at` travels in a
    header, so the sweeper can tell how old the oldest waiting message is."""
    app.send_task(task_name(name), args=[job_id],
                  headers={"ob_sent_at": time.time() if sent_at is None else sent_at})
