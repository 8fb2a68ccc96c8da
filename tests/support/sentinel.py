"""A Redis Sentinel group of the test's own: one master, its replicas and three Sentinels, each a
`redis-server` process on a free 127.0.0.1 port with its own temporary directory.

Made for the high-availability tests (issue 18): start a group, point orderbridge at `url` with
`master_name`, SIGKILL the master, wait for the Sentinels to promote a replica. `stop()` kills
every process by its pid; use the group as a context manager so that happens even when the test
fails. Sentinels need `down_after_ms` >= 3000 on a busy 2-core machine: one that stalls for 2 s
goes into TILT mode and promotes nobody for 30 s.

Run as `python -m tests.support.sentinel publish` (with `ORDERBRIDGE_REDIS_URL` and friends in
the environment) for a process whose Celery app `core.broker.configure` set up: each line
`QUEUE` on its stdin publishes one probe message to that queue and answers `sent` or
`error: ...`; tests drive it through `Publisher`, so the test process's own app is left alone.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import redis

from tests.support.lifetime import StoppedOnExit
from tests.support.polling import poll
from workers.processes import free_port

# Debian's, where the issue checked it (7.0.15), unless `ORDERBRIDGE_TEST_REDIS_BINARY` names
# another (`make test-valkey`: Valkey's); None when the machine has no redis-server.
REDIS_SERVER = os.environ.get("ORDERBRIDGE_TEST_REDIS_BINARY") or shutil.which(
    "redis-server", path=f"{os.environ.get('PATH', '')}:/usr/bin"
)
READY_KEY = "group-test-ready"  # a private server's only key outside orderbridge's own
PROBE_TASK = "orderbridge.sentinel_probe"  # never consumed: only counted in its queue


@dataclass
class Server:
    """One redis-server process (a data server or a Sentinel)."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    argv: list[str] = field(default_factory=list)  # as started: a restart uses them again

    def client(self, timeout: float = 1.0, decode: bool = False) -> redis.Redis:
        return redis.Redis(
            "127.0.0.1",
            self.port,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=decode,
        )

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    # SENTINEL commands sent as they are: redis-py 6.4's parsers of their answers fail on a
    # plain client (an unexpected `return_responses` argument).
    def master_port(self, master_name: str) -> int:
        """The port this Sentinel names for the master (SENTINEL GET-MASTER-ADDR-BY-NAME)."""
        _, port = self.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", master_name)
        return int(port)

    def sentinel_state(self, master_name: str) -> dict[str, str]:
        """What this Sentinel knows of the master (SENTINEL MASTER), as text."""
        flat = self.client().execute_command("SENTINEL", "MASTER", master_name)
        return {k.decode(): v.decode() for k, v in zip(flat[::2], flat[1::2], strict=True)}

    def pause(self) -> None:
        """SIGSTOP: alive but silent, as a replica cut off would be (WAIT times out)."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.alive:
            os.kill(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last words to the replicas."""
        if self.alive:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@dataclass
class SentinelGroup(StoppedOnExit):
    master_name: str
    down_after_ms: int
    workdir: Path
    servers: list[Server] = field(default_factory=list)  # [0] is the first master
    sentinels: list[Server] = field(default_factory=list)
    # Where the servers listen besides 127.0.0.1 (an address of a test's own network, so that
    # processes in its namespaces reach them); the Sentinels stay on 127.0.0.1.
    also_bind: tuple[str, ...] = ()
    keep_workdir: bool = False  # a directory the caller gave (with the logs) outlives the group

    @classmethod
    def start(
        cls,
        master_name: str = "orderbridge",
        replicas: int = 1,
        sentinels: int = 3,
        down_after_ms: int = 3000,
        also_bind: tuple[str, ...] = (),
        workdir: Path | None = None,
    ) -> SentinelGroup:
        """Start the group and wait until it is whole: replicas in sync, Sentinels aware of
        each other and of every replica (only then can they agree on a failover). In `workdir`
        (kept, logs and all, when given) or a temporary directory removed by `stop()`."""
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
        directory = workdir or Path(tempfile.mkdtemp(prefix="ob-sentinel-"))
        group = cls(
            master_name,
            down_after_ms,
            directory,
            also_bind=also_bind,
            keep_workdir=workdir is not None,
        )
        try:
            master = group._spawn("master", [])
            for i in range(replicas):
                group._spawn(f"replica{i}", ["--replicaof", "127.0.0.1", str(master.port)])
            for i in range(sentinels):
                group._spawn_sentinel(f"sentinel{i}", master.port)
            group.wait_until_whole(replicas, sentinels)
        except BaseException:
            group.stop()
            raise
        return group

    @property
    def url(self) -> str:
        """The group as orderbridge's `redis_url` takes it (database 0)."""
        return ";".join(f"sentinel://127.0.0.1:{s.port}" for s in self.sentinels) + "/0"

    @property
    def master_url(self) -> str:
        """The first master itself, as a plain `redis_url` (a group without Sentinels)."""
        return f"redis://127.0.0.1:{self.servers[0].port}/0"

    def master(self) -> Server:
        """The server the Sentinels now name as master."""
        port = self.sentinels[0].master_port(self.master_name)
        return next(s for s in self.servers if s.port == port)

    def replicas(self) -> list[Server]:
        """Every data server but the one the Sentinels name as master."""
        master = self.master()
        return [s for s in self.servers if s is not master]

    def restart(self, server: Server) -> None:
        """Start a killed server again on its port and directory, as it was started. An old
        master comes back empty (no persistence) and calling itself master: restart it only
        once the Sentinels named another, so that they turn it into that one's replica."""
        if server.alive:
            raise RuntimeError(f"{server.name} is still running")
        restarted = self._run(server.name, server.port, server.argv)
        server.proc = restarted.proc

    def wait_until_replica(self, server: Server, timeout: float) -> None:
        """Until `server` replicates the master the Sentinels name, in sync."""

        def replicating() -> bool:
            try:
                master = self.master()
                info = server.client().info("replication")
            except redis.RedisError:
                return False
            return (
                server is not master
                and info.get("role") == "slave"
                and info.get("master_port") == master.port
                and info.get("master_link_status") == "up"
            )

        poll(replicating, timeout, 0.2, f"{server.name} to replicate the master")

    def wait_for_new_master(self, old: Server, timeout: float) -> Server:
        """The replica every live Sentinel names in place of `old`, once they all agree."""

        def agreed() -> Server | None:
            ports: set[int] = set()
            for sentinel in self.sentinels:
                if not sentinel.alive:
                    continue
                try:
                    ports.add(sentinel.master_port(self.master_name))
                except redis.RedisError:
                    return None
            if len(ports) != 1 or old.port in ports:
                return None
            return next(s for s in self.servers if s.port in ports)

        found: Server = poll(agreed, timeout, 0.1, "the Sentinels to promote a replica")
        return found

    def wait_until_whole(self, replicas: int, sentinels: int, timeout: float = 20) -> None:
        def synced(server: Server) -> bool:
            info = server.client().info("replication")
            return info.get("master_link_status") == "up"

        def knows_all(sentinel: Server) -> bool:
            state = sentinel.sentinel_state(self.master_name)
            return state["num-other-sentinels"] == str(sentinels - 1) and state[
                "num-slaves"
            ] == str(replicas)

        def confirmed() -> bool:
            """A write on the master is confirmed by every replica (right after its first sync
            the master may still count one out for most of a second)."""
            master = self.servers[0].client()
            master.set(READY_KEY, "1")
            return int(master.execute_command("WAIT", replicas, 100)) >= replicas

        def whole() -> bool:
            try:
                return (
                    all(synced(s) for s in self.servers[1:])
                    and all(knows_all(s) for s in self.sentinels)
                    and confirmed()
                )
            except redis.RedisError:
                return False

        poll(whole, timeout, 0.1, "the Sentinel group to be whole")

    def stop(self) -> None:
        """Kill every process of the group by its pid, then remove its directory."""
        for server in [*self.sentinels, *self.servers]:
            server.resume()  # a paused process dies on SIGKILL too, but never wait on one
            server.kill()
        if not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- starting ----------------------------------------------------------------------------
    def _spawn(self, name: str, extra: list[str]) -> Server:
        port = free_port()
        directory = self.workdir / name
        directory.mkdir()
        args = ["--port", str(port), "--bind", "127.0.0.1", *self.also_bind]
        if self.also_bind:  # without a password Redis answers only loopback unless told
            args += ["--protected-mode", "no"]
        args += ["--dir", str(directory)]
        # (without the diskless sync delay every first sync would wait 5 s)
        args += ["--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0", *extra]
        server = self._run(name, port, [_binary(), *args])
        self.servers.append(server)
        return server

    def _spawn_sentinel(self, name: str, master_port: int) -> Server:
        port = free_port()
        directory = self.workdir / name
        directory.mkdir()
        config = directory / "sentinel.conf"  # Sentinel rewrites its file: one each
        config.write_text(
            f"port {port}\n"
            f"bind 127.0.0.1\n"
            f"dir {directory}\n"
            f"sentinel monitor {self.master_name} 127.0.0.1 {master_port} 2\n"
            f"sentinel down-after-milliseconds {self.master_name} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.master_name} 10000\n"
            f"sentinel parallel-syncs {self.master_name} 1\n"
        )
        server = self._run(name, port, [_binary(), str(config), "--sentinel"])
        self.sentinels.append(server)
        return server

    def _run(self, name: str, port: int, argv: list[str]) -> Server:
        with open(self.workdir / f"{name}.log", "ab") as log:  # the child keeps its own copy
            proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        server = Server(name, port, proc, argv)
        poll(lambda: _answers(server), 10, 0.05, f"{name} on port {port}")
        return server


def _binary() -> str:
    if REDIS_SERVER is None:
        raise RuntimeError("no redis-server on this machine (Debian: apt-get install redis-server)")
    return REDIS_SERVER


def _answers(server: Server) -> bool:
    if not server.alive:
        raise AssertionError(f"{server.name} exited with {server.proc.returncode}")
    try:
        return bool(server.client(0.5).ping())
    except redis.RedisError:
        return False


class Publisher:
    """A process whose Celery app `core.broker.configure` set up from `env`; it publishes one
    probe message per `send(queue)` with the same app (and its kept connections) each time."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.sentinel", "publish"],
            env={**os.environ, "ORDERBRIDGE_CONFIG": "", **env},  # no config file: env only
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )

    def send(self, queue: str, timeout: float) -> str:
        """`sent`, or `error: ...` when publishing failed (or `timeout` when it took too long)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{queue}\n".encode())
        self.proc.stdin.flush()
        return _read_line(self.proc.stdout, timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


def _read_line(stream: IO[bytes], timeout: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline().decode().strip() if ready else "timeout"


def _publish_lines() -> int:
    """The `publish` command: configure as every entry point does, then one probe per line."""
    from core import broker
    from core.settings import load_settings

    app = broker.configure(load_settings())
    for line in sys.stdin:
        try:
            app.send_task(PROBE_TASK, queue=line.strip())
        except Exception as exc:  # reported to the test, which decides
            print(f"error: {type(exc).__name__}: {exc}", flush=True)
        else:
            print("sent", flush=True)
    return 0


if __name__ == "__main__" and sys.argv[1:] == ["publish"]:
    sys.exit(_publish_lines())
