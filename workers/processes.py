"""Starting and stopping the child processes that `up`, `demo` and the tests run.

Each child is `python -m workers.cli <command>` in its own process group, so stopping it stops
everything it started (a prefork worker's pool children included). Readiness is polled with a
deadline, never assumed after a sleep.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: IO[bytes] | None = field(default=None, repr=False)
    terminated: bool = False

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def terminate(self) -> None:
        """Ask the whole process group to stop (SIGTERM, once), without waiting."""
        if self.alive and not self.terminated:
            self.terminated = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def stop(self, timeout: float = 15) -> None:
        if self.alive:
            self.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self.log:
            self.log.close()

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs."""
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def stop_all(children: list[Child]) -> None:
    """Stop every child: all are asked at once, then each is waited for (newest first)."""
    for child in reversed(children):
        child.terminate()
    for child in reversed(children):
        child.stop()


def spawn(name: str, args: list[str], env: dict[str, str], log_path: str | None = None) -> Child:
    log = open(log_path, "ab") if log_path else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", *args],
        env=env,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return Child(name, proc, log)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.05,
    children: list[Child] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        for child in children or []:
            if not child.alive:
                raise RuntimeError(
                    f"{child.name} exited with {child.proc.returncode} while waiting for {what}"
                )
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
