"""`orderbridge worker` and `orderbridge beat`: the Celery processes, configured from settings.

The entry point loads the task code (`tasks.pipeline`), configures the broker and the process
runtime, and starts the due-schedule sweeper when the worker is ready, so retries and recovery
need no beat; and the invoice watch with its event delivery (`tasks.afterorder`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from celery.signals import worker_ready, worker_shutting_down

from core import runtime
from core.broker import QUEUE, app
from core.settings import Settings
from tasks import pipeline  # noqa: F401  (registers the tasks on the app)
from tasks.afterorder import AfterOrderThread
from tasks.sweeper import BackgroundSweeper

_threads: list[BackgroundSweeper | AfterOrderThread] = []


def _start_sweeper(**_: object) -> None:
    rt = runtime.current()
    _threads[:] = [BackgroundSweeper(rt), AfterOrderThread(rt)]
    for thread in _threads:
        thread.start()


def _stop_sweeper(**_: object) -> None:
    for thread in _threads:
        thread.stop()


def run_worker(settings: Settings, pool: str | None = None, concurrency: int | None = None
               ) -> None:
    runtime.configure(settings)
    worker_ready.connect(_start_sweeper, weak=False)
    worker_shutting_down.connect(_stop_sweeper, weak=False)
    argv = ["worker", "-P", pool or settings.worker.pool,
            "-c", str(concurrency or settings.worker.concurrency), "-Q", QUEUE,
            "-n", f"orderbridge-{os.getpid()}@%h", "--loglevel", settings.log_level,
            "--without-mingle", "--without-gossip"]
    if settings.worker.task_events:
        argv.append("-E")
    app.worker_main(argv)


def run_beat(settings: Settings) -> None:
    runtime.configure(settings)
    schedule = Path(tempfile.gettempdir()) / f"orderbridge-beat-{os.getuid()}"
    app.start(["beat", "--loglevel", settings.log_level, "-s", str(schedule)])


def run_flower(settings: Settings, port: int, address: str) -> None:
    runtime.configure(settings)
    app.start(["flower", f"--port={port}", f"--address={address}"])
