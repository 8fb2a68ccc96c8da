"""Sending a step of a job to the Celery queue: the only way work is enqueued."""

from __future__ import annotations

from workers.celery_app import app


def task_name(step: str) -> str:
    return f"orderbridge.{step}"


def enqueue(step: str, job_id: str) -> None:
    app.send_task(task_name(step), args=[job_id])
