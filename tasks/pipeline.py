"""The Celery tasks: one per pipeline step, each taking a job id (and, for the operator's eyes,
its connection and order reference), plus the lifecycle events and the periodic sweeps.

Tasks are thin on purpose: the work is in `tasks.steps`, the bookkeeping in `tasks.runner`, and
the process's settings, store and connectors in the runtime its entry point configured.
Each step enqueues the next when it is done (rather than a prebuilt Celery chain), so a job can
stop early (duplicate, dead letter), wait in the due-schedule, or resume at any step on replay.

A step task is named after the step its message starts at, but may run the steps after it in
the same delivery (`tasks.runner`); its return value, which Flower shows as the task's result
(from the `task-succeeded` event, with no result backend), says which steps it ran and how
that ended: `shop 1001: upsert_customer → … → create_draft: finished as done (4 steps)`.
Messages sent before the keyword arguments existed (a bare job id) are still accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from celery import Task

from core import runtime
from core.broker import app, task_name
from core.fencing import LeaseLost
from core.replicas import NotReplicated
from schemas.job import Job, Step, utcnow
from tasks import lifecycle, reconcile, sweeper
from tasks.runner import Outcome, run_step_for_task

UNCONFIRMED_BACKOFF_CAP = 60  # seconds between an event's tries while no replica confirms


def steps_run(job: Job, since: datetime, until: datetime) -> tuple[list[Step], int]:
    """The steps one delivery worked on between `since` and `until`, in pipeline order (those
    it finished, and the one that failed or waited), and how many it finished. Read from the
    ledger after the run: the runner records every step's end and every failure's time."""
    touched, finished = [], 0
    for record in job.steps:
        if record.finished_at is not None and since <= record.finished_at <= until:
            touched.append(record.name)
            finished += 1
        elif record.last_error is not None and since <= record.last_error.at <= until:
            touched.append(record.name)
    return touched, finished


def describe_run(
    job: Job | None, job_id: str, outcome: Outcome, since: datetime, until: datetime
) -> str:
    """What a step task returns: the order, the steps it ran, and how the delivery ended."""
    if job is None:
        return f"job {job_id}: {outcome}"
    touched, finished = steps_run(job, since, until)
    ran = " → ".join(touched) if touched else "no step run"
    ended = f"finished as {job.state}" if outcome is Outcome.FINISHED else str(outcome)
    count = f" ({finished} step{'' if finished == 1 else 's'})" if touched else ""
    return f"{job.connection} {job.reference}: {ran}: {ended}{count}"


def _register_step(step: Step) -> Task:
    def step_task(job_id: str, **labels: str) -> str:
        """`labels` (connection, reference, step) are for Flower; the job record is the truth."""
        rt = runtime.current()
        since = utcnow()
        outcome, job = run_step_for_task(rt, job_id, step)
        return describe_run(job, job_id, outcome, since, utcnow())

    step_task.__name__ = str(step)
    step_task.__doc__ = f"Run the {step} step of a job (see tasks.steps.{step})."
    return app.task(name=task_name(step), ignore_result=True)(step_task)


STEP_TASKS: dict[Step, Task] = {step: _register_step(step) for step in Step}


def _event_task(name: str, handle: Callable[[runtime.Runtime, str], str]) -> Task:
    @app.task(name=task_name(name), bind=True, ignore_result=True, max_retries=None)
    def event_task(
        self: Task, job_id: str, connection: str = "", reference: str = "", **_: str
    ) -> str:
        rt = runtime.current()
        rt.store.message_taken(job_id)  # off its queue (see tasks.sweeper)
        try:
            done = handle(rt, job_id)
        except (lifecycle.Busy, LeaseLost) as exc:  # nothing recorded: try again shortly
            raise self.retry(countdown=1, exc=exc) from exc
        except NotReplicated as exc:  # its lease or mark may be lost in a failover: later
            countdown = min(UNCONFIRMED_BACKOFF_CAP, 2 ** min(self.request.retries, 10))
            raise self.retry(countdown=countdown, exc=exc) from exc
        return f"{connection} {reference}: {name}: {done}" if connection else done

    return event_task


order_paid = _event_task("order_paid", lifecycle.order_paid)
order_cancelled = _event_task("order_cancelled", lifecycle.order_cancelled)
order_go_live = _event_task("order_go_live", lifecycle.order_go_live)


@app.task(name=task_name("reconcile"), ignore_result=True)
def reconcile_shops() -> int:
    """Ask every shop for orders changed since its cursor (also run by every worker's sweeper)."""
    return reconcile.reconcile_due(runtime.current())


@app.task(name=task_name("sweep"), ignore_result=True)
def sweep() -> int:
    """Re-enqueue due jobs (scheduled retries, stale steps); run by beat as a second safety."""
    return sweeper.sweep_once(runtime.current())
