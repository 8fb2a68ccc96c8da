"""The processes of the fairness scenarios (issue 16): many shops on one installation.

Everything on 127.0.0.1 and private to the run: a redis-server on a free port (never the
machine's Redis, so its memory figure is ours alone), the PowerOffice simulator with its real
limit of 10 requests/s per subscription key, the Duett simulator, the intake and the workers.
Three connections: `a` (PowerOffice, the shop with the sale), `a2` (PowerOffice on the same
subscription key, so one shared budget) and `b` (Duett, its own budget, at Duett's default
5 requests/s). Orders are the examples' bodies with their own ids and a pool of customers.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.chaos_cluster import RedisServer
from core.store import JOBS, Store
from tests.support.config import duett_connection, orderbridge_toml, poweroffice_connection
from workers.processes import Child, free_port, port_open, spawn, wait_until

SHOP_TOKEN = "fair-shop-token"
OPERATOR_TOKEN = "fair-op-token"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
A, A2, B = "a", "a2", "b"


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


@dataclass
class FairCluster:
    """One run's processes and clients; logs in `tmp`."""

    tmp: Path
    workers: int = 1
    concurrency: int = 16
    redis_server: RedisServer = field(init=False)
    po_port: int = field(default_factory=free_port)
    duett_port: int = field(default_factory=free_port)
    intake_port: int = field(default_factory=free_port)
    children: list[Child] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.redis_server = RedisServer(self.tmp, fsync="no")
        self.po = httpx.Client(base_url=f"http://127.0.0.1:{self.po_port}", timeout=30)
        self.duett = httpx.Client(base_url=f"http://127.0.0.1:{self.duett_port}", timeout=30)
        self.intake = httpx.Client(
            base_url=f"http://127.0.0.1:{self.intake_port}",
            timeout=30,
            headers={"Authorization": f"Bearer {SHOP_TOKEN}"},
        )
        self._posted = threading.local()

    @property
    def redis_url(self) -> str:
        return self.redis_server.url

    def store(self) -> Store:
        return self.redis_server.store()

    def config(self) -> str:
        po_url = f"http://127.0.0.1:{self.po_port}"
        connections = {
            A: poweroffice_connection(
                po_url, api_token=SHOP_TOKEN, reference_template="A-{external_id}"
            ),
            A2: poweroffice_connection(
                po_url, api_token=SHOP_TOKEN, reference_template="A2-{external_id}"
            ),
            B: duett_connection(
                f"http://127.0.0.1:{self.duett_port}",
                api_token=SHOP_TOKEN,
                settings={"requests_per_second": 5},
            ),
        }
        return orderbridge_toml(
            redis_url=self.redis_url,
            intake_port=self.intake_port,
            connections=connections,
            operator_token=OPERATOR_TOKEN,
            log_format="json",
            log_level="INFO",
            retry={"base_seconds": 1, "cap_seconds": 30, "window_seconds": 3600},
            worker={
                "pool": "threads",
                "concurrency": self.concurrency,
                "stale_after_seconds": 30,
                "queued_stale_after_seconds": 300,
                "sweep_interval_seconds": 0.5,
                "visibility_timeout_seconds": 600,
            },
        )

    def start(self) -> None:
        self.redis_server.start()
        env = dict(os.environ)
        for name, port in (("poweroffice", self.po_port), ("duett", self.duett_port)):
            self.children.append(
                spawn(
                    f"sim-{name}",
                    ["simulate", name, "--port", str(port)],
                    env,
                    str(self.tmp / f"sim-{name}.log"),
                )
            )
        config = self.tmp / "orderbridge.toml"
        config.write_text(self.config(), encoding="utf-8")
        env = {**env, "ORDERBRIDGE_CONFIG": str(config), "ORDERBRIDGE_REDIS_URL": self.redis_url}
        self.env = env
        workers = [
            spawn(f"worker{i}", ["worker"], env, str(self.tmp / f"worker{i}.log"))
            for i in range(self.workers)
        ]
        intake = spawn("intake", ["intake"], env, str(self.tmp / "intake.log"))
        self.children += [*workers, intake]
        for port in (self.po_port, self.duett_port, self.intake_port):
            wait_until(
                functools.partial(port_open, port), 60, f"port {port}", children=self.children
            )
        store = self.store()
        for child in workers:
            wait_until(
                functools.partial(store.worker_alive, child.proc.pid),
                90,
                f"{child.name} to be ready",
                children=[child],
            )

    def cli(self, *args: str) -> str:
        """`orderbridge ARGS` against this run's configuration; its output (wide, no colour)."""
        done = subprocess.run(
            [sys.executable, "-m", "workers.cli", *args],
            env={**self.env, "COLUMNS": "200", "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    def stop(self) -> None:
        for client in (self.po, self.duett, self.intake):
            client.close()
        for child in reversed(self.children):
            child.terminate()
        for child in reversed(self.children):
            try:
                child.stop(timeout=20)
            except (OSError, subprocess.SubprocessError):
                child.kill()
        self.redis_server.stop("kill")

    # --- orders -------------------------------------------------------------------------------
    def order(
        self, connection: str, external_id: str, customer: int, urgent: bool = False
    ) -> dict[str, Any]:
        body = copy.deepcopy(
            example("duett-order.json" if connection == B else "poweroffice-order.json")
        )
        body["external_id"] = external_id
        body["number"] = f"#{external_id}"
        body["customer"]["external_id"] = f"{connection}-customer-{customer}"
        if urgent:
            body["urgent"] = True
        return body

    def post(self, connection: str, body: dict[str, Any]) -> str:
        client: httpx.Client | None = getattr(self._posted, "client", None)
        if client is None:  # one keep-alive client per sending thread
            client = httpx.Client(
                base_url=str(self.intake.base_url), timeout=30, headers=dict(self.intake.headers)
            )
            self._posted.client = client
        response = client.post(f"/v1/connections/{connection}/orders", json=body)
        if response.status_code not in (200, 202):
            raise RuntimeError(f"intake answered {response.status_code}: {response.text}")
        return str(response.json()["job_id"])

    def send_paced(
        self, connection: str, bodies: list[dict[str, Any]], seconds: float, threads: int = 4
    ) -> list[str]:
        """POST `bodies` evenly over `seconds` (order i at start + i * seconds / n)."""
        start = time.monotonic()
        ids: list[str] = [""] * len(bodies)
        step = seconds / max(1, len(bodies))

        def send(offset: int) -> None:
            for i in range(offset, len(bodies), threads):
                delay = start + i * step - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                ids[i] = self.post(connection, bodies[i])

        pool = [threading.Thread(target=send, args=(t,), daemon=True) for t in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        return ids

    # --- reading what happened ----------------------------------------------------------------
    def jobs(self, ids: list[str]) -> list[dict[str, Any]]:
        client = self.store().redis
        out = []
        for start in range(0, len(ids), 500):
            keys = [JOBS.key(i) for i in ids[start : start + 500]]
            out += [json.loads(raw) for raw in client.mget(keys) if raw]
        return out

    def sim_calls(self, sim: httpx.Client) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = sim.get("/_sim/calls").json()["calls"]
        return calls
