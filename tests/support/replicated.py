"""Redis with replicas, for the tests of writes confirmed by them (`core.replicas`).

- `ReplicaFakeRedis`: fakeredis, which has no WAIT, answering WAIT with a replica count the test
  sets (`replicas`, or one count per WAIT from `acks`), and counting the WAITs it was sent.
- `ReplicatedRedis`: a private `redis-server` master and one `--replicaof` replica, each on a
  free port with its own directory, stopped by pid; the replica can be paused (SIGSTOP), so WAIT
  times out as it would with the replica away.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import fakeredis
import redis

from tests.support.polling import poll
from workers.processes import free_port

REDIS_SERVER = "/usr/bin/redis-server"
READY_KEY = "replicated-test-ready"  # a private server's only key outside orderbridge's own


class _AckingPipeline(redis.client.Pipeline):
    """A fakeredis pipeline whose WAIT is answered by its `ReplicaFakeRedis`."""

    fake: ReplicaFakeRedis

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if args and str(args[0]).upper() == "WAIT":
            return super().execute_command("ECHO", self.fake.next_ack())
        return super().execute_command(*args, **options)


class ReplicaFakeRedis(fakeredis.FakeRedis):
    """fakeredis whose `replicas` confirm every write (or `acks`, one count per WAIT first)."""

    def __init__(self, replicas: int = 1, **kwargs: Any) -> None:
        super().__init__(decode_responses=True, **kwargs)
        self.replicas = replicas
        self.acks: list[int] = []
        self.waits = 0

    def next_ack(self) -> int:
        self.waits += 1
        return self.acks.pop(0) if self.acks else self.replicas

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = _AckingPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.fake = self
        return pipe


class ReplicatedRedis:
    """A private master and one replica of it; `with ReplicatedRedis() as servers:` starts both
    and waits until the replica is in sync, and stops both by pid however the block ends."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="orderbridge-replicas-"))
        self.master_port, self.replica_port = free_port(), free_port()
        self.url = f"redis://127.0.0.1:{self.master_port}/0"
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> ReplicatedRedis:
        try:
            self._start("master", self.master_port)
            self._start(
                "replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port)
            )
            poll(self._in_sync, 20, 0.1, "the replica to sync with the master")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _start(self, name: str, port: int, *extra: str) -> None:
        folder = self.dir / name
        folder.mkdir()
        args = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(folder), "--repl-diskless-sync-delay", "0"]
        args += extra  # (the default delay makes every first sync wait 5 s)
        with open(folder / "redis.log", "wb") as log:  # the server keeps its own copy
            self.procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))

    def client(self, port: int | None = None) -> redis.Redis:
        return redis.Redis(port=port or self.master_port, decode_responses=True, socket_timeout=5)

    def _in_sync(self) -> bool:
        """A write on the master is confirmed by the replica (right after its first sync the
        master may still count it out for most of a second)."""
        try:
            master = self.client()
            master.set(READY_KEY, "1")
            return int(master.execute_command("WAIT", 1, 100)) >= 1  # type: ignore[no-untyped-call]
        except redis.exceptions.ConnectionError:  # not listening yet
            return False

    @property
    def replica_pid(self) -> int:
        return self.procs[1].pid

    def pause_replica(self) -> None:
        os.kill(self.replica_pid, signal.SIGSTOP)

    def resume_replica(self) -> None:
        os.kill(self.replica_pid, signal.SIGCONT)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)  # a paused one must run to die of SIGTERM
                proc.terminate()
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)
