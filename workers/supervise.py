"""`orderbridge up`: intake, worker and beat as one foreground command.

The children get the same configuration (and, when we started one, the embedded Redis URL).
SIGTERM or Ctrl-C stops them all; if one dies, the others are stopped too and the exit code
says so, so a process manager restarts the whole set.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from core.settings import REDIS_URL_ENV, Settings, child_environment
from workers.embedded_redis import ensure_redis
from workers.processes import spawn, stop_all

console = Console(stderr=True)


@contextmanager
def redis_environment(settings: Settings) -> Iterator[dict[str, str]]:
    """The environment for children: the configured Redis, or an embedded one we start."""
    if settings.redis_url_explicit:
        yield child_environment({})
        return
    with ensure_redis(settings.redis_url) as started:
        if started:
            console.print(f"[yellow]no Redis answered; started an embedded one at "
                          f"{settings.redis_url}[/yellow]")
        yield child_environment({REDIS_URL_ENV: settings.redis_url})


def run_up(settings: Settings) -> int:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with redis_environment(settings) as env:
        children = [spawn(name, [name], env) for name in ("intake", "worker", "beat")]
        console.print(f"orderbridge up: intake on http://{settings.intake.host}:"
                      f"{settings.intake.port}, worker and beat running (Ctrl-C stops)")
        try:
            while not stop.wait(0.5):
                dead = [c for c in children if not c.alive]
                if dead:
                    console.print(f"[red]{dead[0].name} exited ({dead[0].proc.returncode}); "
                                  f"stopping the others[/red]")
                    return 1
        finally:
            stop_all(children)
    return 0
