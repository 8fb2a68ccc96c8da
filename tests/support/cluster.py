"""The processes end-to-end tests drive: simulators, the intake and `orderbridge worker`, all on
127.0.0.1 and real Redis; and `poll`, which waits for a condition with a deadline.

Each pytest-xdist process gets its own Redis database (`REDIS_URL`), so e2e tests run in
parallel without sharing state; every process and port is the test's own (free ports). With
`ORDERBRIDGE_TEST_BROKER=amqp` the broker is the machine's RabbitMQ instead of the store's
Redis, each cluster on queues of its own (`tests/support/rabbitmq.py`), deleted when it stops.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from celery import Celery

from core.store import Store
from tests.support import rabbitmq
from tests.support.config import (
    OPERATOR_TOKEN,
    SHOP_TOKEN,
    orderbridge_toml,
    poweroffice_connection,
)
from tests.support.polling import poll
from workers.processes import Child, free_port, port_open, spawn, stop_all, wait_until

ROOT = Path(__file__).resolve().parents[2]

# Databases of the machine's Redis the suite may flush, one per xdist process ("gw0", "gw1", ...);
# bench/ uses 12. `ORDERBRIDGE_TEST_REDIS_DBS="3,4"` picks others (two runs side by side);
# `ORDERBRIDGE_TEST_REDIS_SERVER="127.0.0.1:PORT"` another server than the machine's (`make
# test-valkey` names a Valkey server of its own); `ORDERBRIDGE_TEST_REDIS_URL` names the whole
# URL of a run without xdist.
TEST_DATABASES = (14, 15, 11, 10, 9, 8)


def _test_redis_url() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None and (url := os.environ.get("ORDERBRIDGE_TEST_REDIS_URL")):
        return url
    chosen = os.environ.get("ORDERBRIDGE_TEST_REDIS_DBS")
    databases = [int(db) for db in chosen.split(",")] if chosen else list(TEST_DATABASES)
    index = int(worker[2:]) if worker and worker[2:].isdigit() else 0
    if index >= len(databases):
        raise RuntimeError(f"at most {len(databases)} pytest-xdist processes (one Redis db each)")
    server = os.environ.get("ORDERBRIDGE_TEST_REDIS_SERVER") or "127.0.0.1:6379"
    return f"redis://{server}/{databases[index]}"


REDIS_URL = _test_redis_url()


class Simulator:
    def __init__(self, child: Child, port: int, host: str = "127.0.0.1") -> None:
        self.child, self.port = child, port
        self.url = f"http://{host}:{port}"
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def state(self) -> dict[str, Any]:
        return self.http.get("/_sim/state").json()

    def count(self, entity: str) -> int:
        return len(self.state()[entity])

    def calls(self) -> dict[str, Any]:
        return self.http.get("/_sim/calls").json()

    def calls_to(self, endpoint: str) -> int:
        return int(self.calls()["by_endpoint"].get(endpoint, 0))

    def fault(self, **fault: Any) -> None:
        self.http.post("/_sim/faults", json=fault).raise_for_status()

    def configure(self, **options: Any) -> None:
        self.http.post("/_sim/config", json=options).raise_for_status()

    def reset(self) -> None:
        self.http.post("/_sim/reset").raise_for_status()

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the ERP's own API as another integration would (for test set-up). It shares the
        subscription key's rate limit with the workers, so a 429 is waited out."""
        key = {"Ocp-Apim-Subscription-Key": "demo-subscription-key"}

        def unthrottled(send: Callable[[], httpx.Response]) -> httpx.Response:
            return poll(lambda: (r := send()).status_code != 429 and r, 10, 0.2, "no 429")

        token = unthrottled(
            lambda: self.http.post(
                "/Demo/OAuth/Token",
                data={"grant_type": "client_credentials"},
                auth=("demo-app-key", "demo-client-key"),
                headers=key,
            )
        ).json()["access_token"]
        headers = {**key, "Authorization": f"Bearer {token}"}
        return unthrottled(
            lambda: self.http.request(method, f"/Demo/v2{path}", headers=headers, **kwargs)
        )


def start_simulator(erp: str, log_dir: Path, host: str = "127.0.0.1") -> Simulator:
    """The simulator of `erp` on a free port of `host` (an address of this machine)."""
    port = free_port()
    child = spawn(
        f"simulator-{erp}",
        ["simulate", erp, "--port", str(port), "--host", host],
        dict(os.environ),
        str(log_dir / f"{erp}.log"),
    )
    wait_until(lambda: port_open(port, host), 20, f"the {erp} simulator", children=[child])
    return Simulator(child, port, host)


class SimulatorPool:
    """Simulator processes for the whole session, started on first use, one per kind."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: dict[str, Simulator] = {}

    def get(self, name: str) -> Simulator:
        if name not in self.running:
            self.running[name] = start_simulator(name, self.log_dir)
        return self.running[name]

    def stop(self) -> None:
        for sim in self.running.values():
            sim.child.stop()


class Cluster:
    """A config file plus the intake and worker processes that use it.

    `connection` is the `[connections.shop]` table (default: PowerOffice on `sim`), `others`
    more `[connections.NAME]` tables; `retry` and the keyword options (`pool`, `concurrency`,
    `stale_after_seconds`, ...) override the test defaults of `[orderbridge.retry]` and
    `[orderbridge.worker]`; `orderbridge` adds other `[orderbridge]` settings, and `redis_url`
    names another Redis than the suite's own (`store` should be on it). `broker_url` (default:
    RabbitMQ when the suite runs with it, else the store) names the broker."""

    def __init__(
        self,
        tmp: Path,
        sim: Simulator,
        store: Store,
        connection: dict[str, Any] | None = None,
        retry: dict[str, Any] | None = None,
        others: dict[str, Any] | None = None,
        orderbridge: dict[str, Any] | None = None,
        redis_url: str = REDIS_URL,
        broker_url: str | None = rabbitmq.AMQP_URL if rabbitmq.BROKER_IS_AMQP else None,
        **worker: Any,
    ) -> None:
        self.tmp, self.sim, self.store = tmp, sim, store
        self.intake_port = free_port()
        self.config = tmp / "orderbridge.toml"
        top = dict(orderbridge or {})
        self.amqp = bool(broker_url and broker_url.startswith("amqp"))
        if broker_url:
            top["broker_url"] = broker_url
        if self.amqp:  # the vhost is shared: names of our own, deleted by stop()
            top.setdefault("queue_name", rabbitmq.unique_queue_name())
        self.broker_url = broker_url or redis_url
        self.queue_name = str(top.get("queue_name", "orderbridge"))
        self.connections = ["shop", *(others or {})]
        self.config.write_text(
            orderbridge_toml(
                redis_url=redis_url,
                intake_port=self.intake_port,
                retry=retry or {},
                worker=worker,
                **top,
                connections={
                    "shop": connection or poweroffice_connection(sim.url),
                    **(others or {}),
                },
            )
        )
        self.env = {
            **os.environ,
            "ORDERBRIDGE_CONFIG": str(self.config),
            "ORDERBRIDGE_REDIS_URL": redis_url,
        }
        self.workers: list[Child] = []
        self.intake: Child | None = None
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.intake_port}", timeout=10)

    def start(self, workers: int = 1) -> None:
        """The intake and `workers` workers, started together (each takes a second to import)
        and then waited for."""
        intake = self._spawn_intake()
        new = [self._spawn_worker() for _ in range(workers)]
        self._wait_intake(intake)
        for child in new:
            self._wait_worker(child)

    def start_worker(self) -> Child:
        child = self._spawn_worker()
        self._wait_worker(child)
        return child

    def start_intake(self) -> Child:
        intake = self._spawn_intake()
        self._wait_intake(intake)
        return intake

    def _spawn_worker(self) -> Child:
        index = len(self.workers)
        child = spawn(f"worker{index}", ["worker"], self.env, str(self.tmp / f"worker{index}.log"))
        self.workers.append(child)
        return child

    def _wait_worker(self, child: Child) -> None:
        wait_until(
            lambda: self.store.worker_alive(child.proc.pid),
            30,
            f"{child.name} to be ready",
            children=[child],
        )

    def _spawn_intake(self) -> Child:
        self.intake = spawn("intake", ["intake"], self.env, str(self.tmp / "intake.log"))
        return self.intake

    def _wait_intake(self, intake: Child) -> None:
        wait_until(lambda: port_open(self.intake_port), 20, "the intake", children=[intake])

    def post_order(
        self, order: dict[str, Any], token: str = SHOP_TOKEN, connection: str = "shop"
    ) -> httpx.Response:
        return self.http.post(
            f"/v1/connections/{connection}/orders",
            json=order,
            headers={"Authorization": f"Bearer {token}"},
        )

    def accept(self, order: dict[str, Any], connection: str = "shop") -> str:
        """Post a new order; it must be accepted (202). Returns its job id."""
        response = self.post_order(order, connection=connection)
        assert response.status_code == 202, response.text
        return str(response.json()["job_id"])

    def queue(self, connection: str | None = None) -> str:
        """The broker queue of `connection`'s messages (None: the shared one)."""
        return f"{self.queue_name}:{connection}" if connection else self.queue_name

    def queued(self, connection: str | None = None) -> int:
        """Messages waiting in a broker queue (a queue not yet declared holds none)."""
        if self.amqp:
            return rabbitmq.queue_depth(self.queue(connection), self.broker_url) or 0
        return int(self.store.redis.llen(self.queue(connection)))

    def send_task(self, name: str, job_id: str, connection: str | None = None) -> None:
        """Publish a message as another producer would (a redelivery, a duplicate), with the
        queue declared as orderbridge declares it."""
        producer = Celery(broker=self.broker_url, set_as_current=False)
        if self.amqp:
            producer.conf.task_create_missing_queue_type = "quorum"
        with producer.connection_for_write() as conn:
            producer.send_task(name, args=[job_id], queue=self.queue(connection), connection=conn)

    def operator(self, method: str, path: str) -> httpx.Response:
        return self.http.request(
            method, path, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        )

    def job(self, job_id: str) -> dict[str, Any]:
        job = self.store.load_job(job_id)
        assert job is not None, f"no job {job_id}"
        return job.public_view()

    def wait_final(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        def final() -> dict[str, Any] | None:
            job = self.store.load_job(job_id)
            return job.public_view() if job and job.is_final else None

        try:
            return poll(final, timeout, what=f"job {job_id} to finish")
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}\n{self.diagnosis(job_id)}") from None

    def diagnosis(self, job_id: str) -> str:
        """What a timed-out wait shows: the job, the admission state, each log's last lines."""
        job = self.store.load_job(job_id)
        view = json.dumps(job.public_view(), default=str)[:3000] if job else "no such job"
        admission = {
            key: self.store.redis.type(key)
            for key in sorted(self.store.redis.scan_iter("ob:adm:*", count=500))[:40]
        }
        tails = []
        for log in sorted(self.tmp.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-15:]
            tails.append(f"--- {log.name}\n" + "\n".join(lines))
        return f"job: {view}\nadmission keys: {admission}\n" + "\n".join(tails)

    def cli(self, *args: str) -> tuple[int, str]:
        proc = subprocess.run(
            [sys.executable, "-m", "workers.cli", *args],
            env={**self.env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        return proc.returncode, proc.stdout + proc.stderr

    def stop(self) -> None:
        stop_all([*([self.intake] if self.intake else []), *self.workers])
        self.http.close()
        if self.amqp:
            rabbitmq.delete_names(self.queue_name, self.connections, self.broker_url)
