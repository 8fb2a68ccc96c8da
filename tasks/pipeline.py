"""The Celery tasks: one per pipeline step, each taking a job id and nothing else.

Tasks are thin on purpose: the work is in `tasks.steps`, the bookkeeping in `tasks.runner`.
Each step enqueues the next when it is done (rather than a prebuilt Celery chain), so a job can
stop early (duplicate, dead letter), wait in the due-schedule, or resume at any step on replay.
"""

from __future__ import annotations

from celery import Task

from schemas.job import STEPS
from tasks.runner import run_step
from workers.celery_app import app
from workers.queue import task_name


def _make_step_task(step: str) -> Task:
    def step_task(job_id: str) -> str:
        return run_step(job_id, step)

    step_task.__name__ = step
    step_task.__doc__ = f"Run the {step} step of a job (see tasks.steps.{step})."
    return app.task(name=task_name(step), ignore_result=True)(step_task)


upsert_customer = _make_step_task("upsert_customer")
upsert_products = _make_step_task("upsert_products")
check_duplicate = _make_step_task("check_duplicate")
create_draft = _make_step_task("create_draft")
send_invoice = _make_step_task("send_invoice")
assert set(STEPS) == {"upsert_customer", "upsert_products", "check_duplicate",
                      "create_draft", "send_invoice"}


@app.task(name="orderbridge.order_paid", bind=True, ignore_result=True, max_retries=None)
def order_paid(self: Task, job_id: str) -> str:
    """The source reports the order paid: invoice it (see tasks.lifecycle)."""
    from tasks.lifecycle import Busy
    from tasks.lifecycle import order_paid as run
    try:
        return run(job_id)
    except Busy as exc:
        raise self.retry(countdown=2, exc=exc) from exc


@app.task(name="orderbridge.order_cancelled", bind=True, ignore_result=True, max_retries=None)
def order_cancelled(self: Task, job_id: str) -> str:
    """The source reports the order cancelled: stop the job or remove the draft."""
    from tasks.lifecycle import Busy
    from tasks.lifecycle import order_cancelled as run
    try:
        return run(job_id)
    except Busy as exc:
        raise self.retry(countdown=2, exc=exc) from exc


@app.task(name="orderbridge.reconcile", ignore_result=True)
def reconcile() -> int:
    """Ask every shop for orders changed since its cursor (also run by every worker's sweeper)."""
    from workers.reconcile import reconcile_due
    return reconcile_due()


@app.task(name="orderbridge.sweep", ignore_result=True)
def sweep() -> int:
    """Re-enqueue due jobs (scheduled retries, stale steps); run by beat as a second safety."""
    from workers.sweeper import sweep_once
    return sweep_once()
