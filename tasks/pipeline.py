"""The Celery tasks: one per pipeline step, each taking a job id and nothing else, plus the
lifecycle events and the periodic sweeps.

Tasks are thin on purpose: the work is in `tasks.steps`, the bookkeeping in `tasks.runner`, and
the process's settings, store and connectors in the runtime its entry point configured.
Each step enqueues the next when it is done (rather than a prebuilt Celery chain), so a job can
stop early (duplicate, dead letter), wait in the due-schedule, or resume at any step on replay.
"""

from __future__ import annotations

from collections.abc import Callable

from celery import Task

from core import runtime
from core.broker import app, task_name
from schemas.job import Step
from tasks import lifecycle, reconcile, sweeper
from tasks.runner import run_step


def _register_step(step: Step) -> Task:
    def step_task(job_id: str) -> str:
        return str(run_step(runtime.current(), job_id, step))

    step_task.__name__ = str(step)
    step_task.__doc__ = f"Run the {step} step of a job (see tasks.steps.{step})."
    return app.task(name=task_name(step), ignore_result=True)(step_task)


STEP_TASKS: dict[Step, Task] = {step: _register_step(step) for step in Step}


def _event_task(name: str, handle: Callable[[runtime.Runtime, str], str]) -> Task:
    @app.task(name=task_name(name), bind=True, ignore_result=True, max_retries=None)
    def event_task(self: Task, job_id: str) -> str:
        try:
            return handle(runtime.current(), job_id)
        except lifecycle.Busy as exc:
            raise self.retry(countdown=1, exc=exc) from exc

    return event_task


order_paid = _event_task("order_paid", lifecycle.order_paid)
order_cancelled = _event_task("order_cancelled", lifecycle.order_cancelled)


@app.task(name=task_name("reconcile"), ignore_result=True)
def reconcile_shops() -> int:
    """Ask every shop for orders changed since its cursor (also run by every worker's sweeper)."""
    return reconcile.reconcile_due(runtime.current())


@app.task(name=task_name("sweep"), ignore_result=True)
def sweep() -> int:
    """Re-enqueue due jobs (scheduled retries, stale steps); run by beat as a second safety."""
    return sweeper.sweep_once(runtime.current())
