"""`orderbridge up`: intake, worker and beat as one foreground command.

The children get the same configuration (and, when we started one, the embedded Redis URL).
At start it prints where everything is (the intake's routes, API docs, metrics, status page,
Flower, the Redis in use, the children's log files), and says when the intake answers.
SIGTERM or Ctrl-C stops them all; if one dies, the others are stopped too and the exit code
says so, so a process manager restarts the whole set.
"""

from __future__ import annotations

import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

from core.settings import REDIS_URL_ENV, Settings, child_environment
from workers.embedded_redis import ensure_redis
from workers.processes import port_open, spawn, stop_all

console = Console(stderr=True)
FLOWER_PORT = 5555  # `orderbridge flower`'s default
CHILDREN = ("intake", "worker", "beat")


@contextmanager
def redis_environment(settings: Settings) -> Iterator[dict[str, str]]:
    """The environment for children: the configured Redis, or an embedded one we start (never
    for a Sentinel group: that is someone's Redis, away or not)."""
    if settings.redis_url_explicit or settings.store_endpoint.is_sentinel:
        yield child_environment({})
        return
    with ensure_redis(settings.redis_url) as started:
        if started:
            console.print(
                f"[yellow]no Redis answered; started an embedded one at "
                f"{settings.redis_url}[/yellow]"
            )
        yield child_environment({REDIS_URL_ENV: settings.redis_url})


def intake_url(settings: Settings) -> str:
    host = settings.intake.host
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{settings.intake.port}"


def where(settings: Settings, logs: str, flower_running: bool) -> list[tuple[str, str]]:
    """What `up` prints: (what, where) for every door into the running service."""
    base = intake_url(settings)
    rows = []
    for conn in settings.connections.values():
        route = (
            f"/v1/connections/{conn.name}/orders"
            if conn.source == "any"
            else f"/webhooks/{conn.source}/{conn.name}"
        )
        kind = conn.erp if conn.source == "any" else f"{conn.source} -> {conn.erp}"
        rows.append((f"{conn.name} ({kind})", f"POST {base}{route}"))
    flower = f"http://127.0.0.1:{FLOWER_PORT}"
    rows += [
        ("API docs", f"{base}/docs  (schema: {base}/openapi.json)"),
        ("jobs, dead letters", f"{base}/v1/jobs/ID, {base}/v1/dead-letters  (operator token)"),
        ("status page", f"{base}/status  (operator token)"),
        ("metrics", f"{base}/metrics  (health: {base}/healthz)"),
        ("Flower", flower if flower_running else f"not started: `orderbridge flower` -> {flower}"),
        ("Redis", str(settings.store_endpoint)),
        (
            "broker",
            "the same Redis" if settings.broker_url is None else str(settings.broker_endpoint),
        ),
        ("logs", f"{logs}/{{{','.join(CHILDREN)}}}.log"),
    ]
    return rows


def print_where(rows: list[tuple[str, str]]) -> None:
    width = max(len(what) for what, _ in rows)
    for what, place in rows:
        console.print(
            f"  {escape(what).ljust(width)}  {escape(place)}", soft_wrap=True, highlight=False
        )


def run_up(settings: Settings) -> int:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if port_open(settings.intake.port):
        console.print(
            f"[red]port {settings.intake.port} is in use; stop what runs there (or "
            f"change [orderbridge.intake] port)[/red]"
        )
        return 1
    with redis_environment(settings) as env:
        logs = tempfile.mkdtemp(prefix="orderbridge-up-")
        children = [spawn(name, [name], env, f"{logs}/{name}.log") for name in CHILDREN]
        console.print(
            "orderbridge up: intake, worker and beat (Ctrl-C stops them)", highlight=False
        )
        print_where(where(settings, logs, port_open(FLOWER_PORT)))
        ready = False
        try:
            while not stop.wait(0.2 if not ready else 0.5):
                dead = [c for c in children if not c.alive]
                if dead:
                    console.print(
                        f"[red]{dead[0].name} exited ({dead[0].proc.returncode}); "
                        f"stopping the others; see {logs}/{dead[0].name}.log[/red]"
                    )
                    return 1
                if not ready and port_open(settings.intake.port):
                    ready = True
                    console.print(
                        f"ready: the intake answers on {intake_url(settings)}",
                        highlight=False,
                        soft_wrap=True,
                    )
        finally:
            stop_all(children)
    return 0
