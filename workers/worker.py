"""`orderbridge worker` and `orderbridge beat`: the Celery processes, configured from settings.

The entry point loads the task code (`tasks.pipeline`), configures the broker and the process
runtime, and starts the due-schedule sweeper when the worker is ready, so retries and recovery
need no beat; the invoice watch with its event delivery (`tasks.afterorder`); and the
dispatcher (`tasks.dispatch`), which hands ready jobs to the workers as admission allows.
A worker consumes every connection's queue, or with `--connections` only those.

`orderbridge flower` runs Flower on the same app: task events are switched on in every worker at
once (Flower itself first does so after 5 s, then every 5 s for workers started later) and off
again when it stops, unless the configuration keeps them on (`worker.task_events`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import tempfile
from pathlib import Path

from celery.signals import worker_ready, worker_shutting_down
from kombu.exceptions import OperationalError

from core import runtime
from core.broker import app, queues
from core.logging import get_logger
from core.settings import Settings
from tasks import pipeline  # noqa: F401  (registers the tasks on the app)
from tasks.afterorder import AfterOrderThread
from tasks.background import BackgroundLoop
from tasks.dispatch import DispatchThread, worker_id
from tasks.sweeper import BackgroundSweeper

_threads: list[BackgroundLoop] = []


def _start_sweeper(**_: object) -> None:
    rt = runtime.current()
    _threads[:] = [BackgroundSweeper(rt), AfterOrderThread(rt), DispatchThread(rt)]
    for thread in _threads:
        thread.start()


def _stop_sweeper(**_: object) -> None:
    for thread in _threads:
        thread.stop()
    with contextlib.suppress(Exception):  # its threads no longer count for admission
        runtime.current().admission.unregister_worker(worker_id())


def run_worker(
    settings: Settings,
    pool: str | None = None,
    concurrency: int | None = None,
    connections: list[str] | None = None,
) -> None:
    if concurrency:
        settings = settings.model_copy(
            update={"worker": settings.worker.model_copy(update={"concurrency": concurrency})}
        )
    runtime.configure(settings)
    worker_ready.connect(_start_sweeper, weak=False)
    worker_shutting_down.connect(_stop_sweeper, weak=False)
    argv = [
        "worker",
        "-P",
        pool or settings.worker.pool,
        "-c",
        str(settings.worker.concurrency),
        "-Q",
        ",".join(queues(connections or sorted(settings.connections))),
        "-n",
        f"orderbridge-{os.getpid()}@%h",
        "--loglevel",
        settings.log_level,
        "--without-mingle",
        "--without-gossip",
    ]
    if settings.worker.task_events:
        argv.append("-E")
    app.worker_main(argv)


def run_beat(settings: Settings) -> None:
    runtime.configure(settings)
    schedule = Path(tempfile.gettempdir()) / f"orderbridge-beat-{os.getuid()}"
    app.start(["beat", "--loglevel", settings.log_level, "-s", str(schedule)])


# Flower 2 answers its HTTP API only with authentication configured or this variable set.
UNAUTHENTICATED_API = "FLOWER_UNAUTHENTICATED_API"


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # "" (every interface) or a host name


def flower_options(
    settings: Settings, port: int, address: str
) -> tuple[list[str], dict[str, str], str]:
    """Flower's arguments, the environment it needs and a line saying how it is protected.

    With `flower_basic_auth` every page and the API ask for those credentials. Without it the
    pages are open and Flower refuses its API unless `FLOWER_UNAUTHENTICATED_API` is set; we set
    it only on a loopback address, where the API is as reachable as the pages already are."""
    argv = ["flower", f"--port={port}", f"--address={address}"]
    if settings.flower_basic_auth is not None:
        pairs = settings.flower_basic_auth.get_secret_value().split(",")
        argv.append("--basic-auth=" + ",".join(pair.strip() for pair in pairs))
        return argv, {}, f"flower: basic auth on pages and API ({len(pairs)} user(s))"
    if is_loopback(address):
        return (
            argv,
            {UNAUTHENTICATED_API: "true"},
            (
                f"flower: no basic auth configured (flower_basic_auth_env); bound to {address}, "
                f"so the HTTP API is open to local scripts ({UNAUTHENTICATED_API}=true)"
            ),
        )
    return (
        argv,
        {},
        (
            f"flower: no basic auth configured (flower_basic_auth_env) and bound to "
            f"{address or 'every interface'}: the pages are open to anyone who can reach them and "
            f"the HTTP API is refused"
        ),
    )


def run_flower(settings: Settings, port: int, address: str) -> None:
    runtime.configure(settings)
    argv, env, protection = flower_options(settings, port, address)
    os.environ.update(env)
    log = get_logger("orderbridge.flower")
    open_to_all = settings.flower_basic_auth is None and not env
    (log.warning if open_to_all else log.info)(protection, address=address, port=port)
    with contextlib.suppress(OperationalError):
        app.control.enable_events()  # tasks show up at once, not after Flower's first 5 s
    try:
        app.start(argv)
    finally:
        if not settings.worker.task_events:
            with contextlib.suppress(OperationalError):
                app.control.disable_events()  # nobody watches: no publish per task state
