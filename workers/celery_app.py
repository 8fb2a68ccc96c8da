"""The Celery app, with the settings the delivery guarantees rest on.

- acks late + reject on worker lost: a message is acknowledged only after its step has recorded
  its result, so a crash redelivers it (the ledger makes the rerun harmless);
- JSON only; task and worker events on, for Flower; prefetch 1, since steps are long I/O;
- a visibility timeout well above any step's run time: long waits (backoff, budgets) never hold
  a message, they go to the Redis due-schedule and the sweeper re-enqueues the step when due.
"""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_ready, worker_shutting_down

from workers.logging import configure as configure_logging
from workers.settings import get_settings

QUEUE = "orderbridge"


def create_app() -> Celery:
    settings = get_settings()
    app = Celery("orderbridge", broker=settings.redis_url, include=["tasks.pipeline"])
    app.conf.update(
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
            "orderbridge-sweep": {"task": "orderbridge.sweep", "schedule": 10.0},
            "orderbridge-reconcile": {"task": "orderbridge.reconcile", "schedule": 30.0},
        },
        timezone="UTC",
    )
    return app


app = create_app()


@worker_ready.connect
def _start_sweeper(**_: object) -> None:
    """Every worker also runs the due-schedule sweeper, so retries and recovery need no beat."""
    from workers.sweeper import start_background_sweeper
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    start_background_sweeper()


@worker_shutting_down.connect
def _stop_sweeper(**_: object) -> None:
    from workers.sweeper import stop_background_sweeper
    stop_background_sweeper()
