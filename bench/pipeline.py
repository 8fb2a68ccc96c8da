"""End-to-end throughput of the order pipeline, beside a bare Celery chain on the same machine.

    .venv/bin/python -m bench.pipeline [--orders 1000] [--runs 3] [--workers 1] [--concurrency 32]
                                       [--out bench/reports/pipeline.md] [--quick]

Scenarios (each run `--runs` times, interleaved, medians quoted):
- bare chain: 1,000 Celery chains of 5 empty tasks (`bench.bare_chain`), same Redis, same pool
  type and concurrency, acks late, prefetch 1, JSON, no result backend;
- pipeline 0 ms: 1,000 orders of 3 product lines, each for a NEW customer with 3 NEW products
  (the worst case: 7 ERP calls per order), posted over HTTP to the intake, timed from the first
  POST until the last job is final;
- pipeline 150 ms: the same with 150 ms added to every simulator call;
- returning customer: one warm-up order, then 1,000 orders for the same customer and the same
  3 products (distinct order ids), at 0 ms.

Everything runs on 127.0.0.1: the PowerOffice simulator, the intake and the workers are child
processes (`workers.processes.spawn`), Redis database 12 is flushed at the start.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import httpx
import redis
from rich.console import Console
from rich.table import Table

from workers.processes import Child, free_port, port_open, spawn, wait_until

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/12"
SHOP_TOKEN = "bench-shop-token"
OPERATOR_TOKEN = "bench-op-token"
PIPELINE_QUEUE = "orderbridge"
FINAL_STATES = ("done", "duplicate", "dead", "cancelled")

# Targets from the issue.
TARGET_VS_BARE = 0.5        # pipeline 0 ms >= 50 % of the bare chain's rate
TARGET_LATENCY_KEEP = 0.8   # pipeline 150 ms >= 80 % of the pipeline's own 0 ms rate
TARGET_CALLS_RETURNING = 1.1  # returning customer, known products: <= 1.1 ERP calls per order

# The shape of tests/conftest.py's CONFIG, with the benchmark's Redis database and our own
# request budget lifted (requests_per_second) so that it does not throttle the measurement.
CONFIG = """
[orderbridge]
redis_url = "{redis_url}"
operator_token = "{operator_token}"
log_format = "json"
log_level = "{log_level}"

[orderbridge.retry]
base_seconds = 0.2
cap_seconds = 2
window_seconds = 120

[orderbridge.worker]
pool = "threads"
concurrency = {concurrency}
stale_after_seconds = {stale_after}
queued_stale_after_seconds = {queued_stale_after}
sweep_interval_seconds = {sweep_interval}
visibility_timeout_seconds = 300
send_poll_seconds = 2

[orderbridge.intake]
port = {intake_port}

[connections.shop]
erp = "poweroffice"
api_token = "{shop_token}"
send_invoice = false
requests_per_second = {requests_per_second}

[connections.shop.settings]
base_url = "http://127.0.0.1:{sim_port}/Demo/v2"
token_url = "http://127.0.0.1:{sim_port}/Demo/OAuth/Token"
application_key = "demo-app-key"
client_key = "demo-client-key"
subscription_key = "demo-subscription-key"
"""

console = Console()


# --- orders -----------------------------------------------------------------------------------
def make_customer(external_id: str) -> dict[str, Any]:
    return {"external_id": external_id, "kind": "person", "name": f"Kunde {external_id}",
            "email": f"{external_id}@example.no",
            "billing_address": {"line1": "Storgata 1", "postal_code": "0155", "city": "Oslo",
                                "country": "NO"}}


def make_order(external_id: str, customer: dict[str, Any], skus: list[str]) -> dict[str, Any]:
    """Three product lines, the shape of tests.factories.three_line_order."""
    lines = [
        {"type": "product", "sku": skus[0], "name": f"Article {skus[0]}", "quantity": "1",
         "unit_price": "100.00", "discount": "0", "vat_rate": "0.25"},
        {"type": "product", "sku": skus[1], "name": f"Article {skus[1]}", "quantity": "2",
         "unit_price": "50.00", "discount": "10.00", "vat_rate": "0.15"},
        {"type": "product", "sku": skus[2], "name": f"Article {skus[2]}", "quantity": "3",
         "unit_price": "10.00", "discount": "0", "vat_rate": "0.25"},
    ]
    return {"external_id": external_id, "number": f"#{external_id}", "source": "bench",
            "placed_at": "2026-11-04T09:14:58Z", "currency": "NOK", "prices_include_vat": True,
            "customer": customer, "lines": lines}


def new_customer_orders(tag: str, count: int) -> list[dict[str, Any]]:
    """Every order a new customer with three new products."""
    return [make_order(f"{tag}-{i}", make_customer(f"{tag}-c{i}"),
                       [f"{tag}-{i}-A", f"{tag}-{i}-B", f"{tag}-{i}-C"]) for i in range(count)]


def returning_orders(tag: str, count: int, start: int = 0) -> list[dict[str, Any]]:
    """Every order the same customer and the same three products."""
    customer = make_customer(f"{tag}-regular")
    skus = [f"{tag}-KAFFE", f"{tag}-TE", f"{tag}-KAKAO"]
    return [make_order(f"{tag}-{i}", customer, skus) for i in range(start, start + count)]


# --- measurements ------------------------------------------------------------------------------
@dataclass
class RunResult:
    scenario: str
    run: int
    orders: int
    seconds: float
    post_seconds: float = 0.0
    erp_calls: int | None = None
    by_endpoint: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    ok: bool = True
    note: str = ""
    p50: float | None = None  # seconds from the first POST until half the jobs were final
    p99: float | None = None  # ... until 99 % were final
    events: dict[str, int] = field(default_factory=dict)  # counted in the worker logs

    @property
    def rate_p99(self) -> float | None:
        """The rate up to the 99th percentile of completion: the steady state, without the
        last stragglers."""
        return None if not self.p99 else 0.99 * self.orders / self.p99

    @property
    def rate(self) -> float:
        return self.orders / self.seconds if self.seconds > 0 else 0.0

    @property
    def calls_per_order(self) -> float | None:
        return None if self.erp_calls is None else self.erp_calls / self.orders


LOG_EVENTS = {
    "step.busy": '"step.busy"',
    "sweep.enqueued": '"sweep.enqueued"',
    "step.retry": '"step.retry"',
    "dlq.added": '"dlq.added"',
    "not_current": "'not_current'",
    "errors": '"level": "error"',
    "tracebacks": "Traceback (most recent call last)",
}


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its reaped children, from /proc (0 if unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = sum(int(v) for v in fields[11:15])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, steal): CPU seconds the machine's cores ran something (not idle, iowait or steal)
    and seconds the hypervisor took from this VM, both since boot."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        # user nice system idle iowait irq softirq steal [guest guest_nice, included in user]
        steal = fields[7] if len(fields) > 7 else 0
        busy = sum(fields[:8]) - fields[3] - fields[4] - steal
        tick = os.sysconf("SC_CLK_TCK")
        return busy / tick, steal / tick
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        # Read before the workers start: they import the code on disk at that moment.
        self.code = code_under_test()
        self.tmp = Path(tempfile.mkdtemp(prefix="orderbridge-bench-"))
        self.redis = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        self.children: list[Child] = []
        self.workers: list[Child] = []
        self.sim_port = free_port()
        self.intake_port = free_port()
        self.sim: httpx.Client | None = None
        self.intake_url = f"http://127.0.0.1:{self.intake_port}"
        self.env: dict[str, str] = {}
        self.results: list[RunResult] = []
        self._tags = 0
        self.nudges = 0
        self.last_foreign_load = 0.0
        self.failures: list[str] = []
        self.redis_pid = int(self.redis.info("server").get("process_id", 0))

    # --- processes ---------------------------------------------------------------------------
    def start(self) -> None:
        self.redis.flushdb()
        log = str(self.tmp / "simulator.log")
        sim = spawn("simulator", ["simulate", "poweroffice", "--port", str(self.sim_port)],
                    dict(os.environ), log)
        self.children.append(sim)
        wait_until(lambda: port_open(self.sim_port), 30, "the simulator", children=[sim])
        self.sim = httpx.Client(base_url=f"http://127.0.0.1:{self.sim_port}", timeout=60)
        self.sim_reset(0)

        config = self.tmp / "orderbridge.toml"
        config.write_text(CONFIG.format(
            redis_url=REDIS_URL, operator_token=OPERATOR_TOKEN, log_level=self.args.log_level,
            concurrency=self.args.concurrency, intake_port=self.intake_port,
            shop_token=SHOP_TOKEN, requests_per_second=self.args.requests_per_second,
            sim_port=self.sim_port, stale_after=self.args.stale_after,
            queued_stale_after=self.args.queued_stale_after,
            sweep_interval=self.args.sweep_interval))
        self.env = {**os.environ, "ORDERBRIDGE_CONFIG": str(config),
                    "ORDERBRIDGE_REDIS_URL": REDIS_URL}
        for index in range(self.args.workers):
            child = spawn(f"worker{index}", ["worker"], self.env,
                          str(self.tmp / f"worker{index}.log"))
            self.children.append(child)
            self.workers.append(child)
        for child in self.workers:
            wait_until(lambda: bool(self.redis.exists(f"ob:worker:{child.proc.pid}")), 60,
                       f"{child.name} to be ready", children=[child])
        intake = spawn("intake", ["intake"], self.env, str(self.tmp / "intake.log"))
        self.children.append(intake)
        self.intake = intake
        wait_until(lambda: port_open(self.intake_port), 30, "the intake", children=[intake])
        self.start_bare_workers()

    def start_bare_workers(self) -> None:
        """As many bare Celery workers as pipeline workers, same pool and concurrency."""
        env = {**os.environ, "BENCH_REDIS_URL": REDIS_URL}
        started: list[Child] = []
        for index in range(self.args.workers):
            name = f"bare-worker{index}"
            log = open(self.tmp / f"{name}.log", "ab")
            proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "bench.bare_chain", "worker", "-P",
                 "threads", "-c", str(self.args.concurrency), "-Q", "bench-bare",
                 "--without-mingle", "--without-gossip", "--loglevel", "WARNING",
                 "-n", f"bench-bare-{os.getpid()}-{index}@%h"],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
            child = Child(name, proc, log)
            self.children.append(child)
            started.append(child)
        for child in started:
            wait_until(lambda: bool(self.redis.exists(f"bench:bare:worker:{child.proc.pid}")),
                       60, f"{child.name} to be ready", children=[child])

    def stop(self) -> None:
        if self.sim is not None:
            self.sim.close()
        for child in reversed(self.children):
            try:
                child.stop(timeout=20)
            except Exception as exc:  # keep stopping the others
                console.print(f"[red]could not stop {child.name}: {exc}[/red]")
                try:
                    child.kill()
                except Exception:
                    pass

    def check_alive(self) -> None:
        for child in self.children:
            if not child.alive:
                raise RuntimeError(f"{child.name} exited with {child.proc.returncode}; "
                                   f"see {self.tmp}")

    def log_marks(self) -> dict[str, int]:
        return {c.name: (self.tmp / f"{c.name}.log").stat().st_size for c in self.workers}

    def log_events(self, marks: dict[str, int]) -> dict[str, int]:
        """Count notable lines the workers logged since `marks`."""
        counts = dict.fromkeys(LOG_EVENTS, 0)
        for name, offset in marks.items():
            with open(self.tmp / f"{name}.log", "rb") as log:
                log.seek(offset)
                text = log.read().decode("utf-8", "replace")
            for key, needle in LOG_EVENTS.items():
                counts[key] += text.count(needle)
        return counts

    def cpu_snapshot(self) -> dict[str, float]:
        snap = {child.name: cpu_seconds(child.proc.pid) for child in self.children}
        snap["redis-server"] = cpu_seconds(self.redis_pid) if self.redis_pid else 0.0
        times = os.times()
        snap["bench (posting, polling)"] = times.user + times.system
        snap["_machine"], snap["_steal"] = machine_cpu_seconds()
        return snap

    @staticmethod
    def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """CPU seconds per process, plus `other` for everything else on the machine (other
        people's work on a shared machine shows up here)."""
        delta = {k: after[k] - before.get(k, 0.0) for k in after if not k.startswith("_")}
        machine_total = after["_machine"] - before["_machine"]
        delta["other processes"] = max(0.0, machine_total - sum(delta.values()))
        delta["steal (hypervisor)"] = max(0.0, after["_steal"] - before["_steal"])
        return delta

    # --- simulator and Redis between scenarios ------------------------------------------------
    def sim_reset(self, latency_ms: int) -> None:
        assert self.sim is not None
        self.sim.post("/_sim/reset").raise_for_status()
        # reset restores the options: lift the per-key rate limit again every time
        self.sim.post("/_sim/config", json={"rate_limit_per_second": 0}).raise_for_status()
        self.sim.post("/_sim/latency", json={"ms": latency_ms}).raise_for_status()

    def sim_calls(self) -> dict[str, Any]:
        assert self.sim is not None
        return self.sim.get("/_sim/calls").json()

    def wait_quiet(self, timeout: float = 120) -> None:
        """Nothing queued or unacknowledged, nothing due: the previous scenario is over."""
        def quiet() -> bool:
            return (self.redis.llen(PIPELINE_QUEUE) == 0 and self.redis.llen("bench-bare") == 0
                    and self.redis.hlen("unacked") == 0 and self.redis.zcard("ob:due") == 0)
        wait_until(quiet, timeout, "the queues to drain", interval=0.1, children=self.children)

    def clean_redis(self) -> None:
        """Forget jobs, caches, counters; keep worker liveness keys, tokens and kombu's keys."""
        keep = ("ob:worker:", "ob:token:", "bench:bare:worker:")
        batch: list[str] = []
        for pattern in ("ob:*", "bench:*"):
            for key in self.redis.scan_iter(pattern, count=1000):
                if not key.startswith(keep):
                    batch.append(key)
                if len(batch) >= 500:
                    self.redis.delete(*batch)
                    batch = []
        if batch:
            self.redis.delete(*batch)

    def foreign_load(self, seconds: float = 1.0) -> float:
        """Cores' worth of CPU used by processes other than ours over `seconds`."""
        before = self.cpu_snapshot()
        time.sleep(seconds)
        return self.cpu_delta(before, self.cpu_snapshot())["other processes"] / seconds

    def wait_machine_quiet(self) -> None:
        """On a shared machine, wait (up to --wait-for-quiet seconds) until other processes use
        less than a fifth of a core, so that they disturb the measurement less."""
        limit = self.args.wait_for_quiet
        if limit <= 0:
            return
        deadline = time.monotonic() + limit
        load = self.foreign_load()
        while load > 0.2 and time.monotonic() < deadline:
            load = self.foreign_load()
        self.last_foreign_load = load

    def prepare(self, latency_ms: int) -> None:
        self.check_alive()
        self.wait_quiet()
        self.clean_redis()
        self.sim_reset(latency_ms)
        self.wait_machine_quiet()

    def tag(self, prefix: str) -> str:
        self._tags += 1
        return f"{prefix}{self._tags}"

    # --- posting and waiting -------------------------------------------------------------------
    def post_orders(self, orders: list[dict[str, Any]]) -> tuple[float, float, list[str]]:
        """POST every order from a few threads; returns (start wall time, seconds, job ids)."""
        posters = max(1, min(self.args.posters, len(orders)))
        slices = [orders[i::posters] for i in range(posters)]
        headers = {"Authorization": f"Bearer {SHOP_TOKEN}"}
        path = "/v1/connections/shop/orders"
        clients = [httpx.Client(base_url=self.intake_url, timeout=60) for _ in range(posters)]
        barrier = threading.Barrier(posters + 1)

        def post_slice(index: int) -> list[str]:
            client, ids = clients[index], []
            barrier.wait()
            for body in slices[index]:
                response = client.post(path, json=body, headers=headers)
                if response.status_code != 202:
                    raise RuntimeError(f"intake answered {response.status_code}: "
                                       f"{response.text[:300]}")
                ids.append(response.json()["job_id"])
            return ids

        try:
            with ThreadPoolExecutor(posters) as pool:
                futures = [pool.submit(post_slice, i) for i in range(posters)]
                barrier.wait()
                start = time.time()
                job_ids = [job_id for f in futures for job_id in f.result()]
                posted = time.time() - start
        finally:
            for client in clients:
                client.close()
        return start, posted, job_ids

    def wait_jobs(self, job_ids: list[str], timeout: float
                  ) -> tuple[dict[str, int], list[float], int]:
        """Wait until every job is final; returns (states, sorted finish times, retries)."""
        want = len(job_ids)
        last_progress, last_count = time.monotonic(), -1
        deadline = time.monotonic() + timeout
        while True:
            done, dup, dead = self.redis.hmget("ob:stats", "jobs_done", "jobs_duplicate",
                                               "dead_letters")
            count = sum(int(v or 0) for v in (done, dup, dead))
            if count >= want:
                break
            now = time.monotonic()
            if count != last_count:
                last_count, last_progress = count, now
            if now > deadline or now - last_progress > 90:
                console.print(f"[red]stopped waiting: {count}/{want} jobs final[/red]")
                break
            self.check_alive()
            time.sleep(0.05)
        states: dict[str, int] = {}
        finished: list[float] = []
        for start in range(0, want, 200):
            chunk = job_ids[start:start + 200]
            for raw in self.redis.mget([f"ob:job:{j}" for j in chunk]):
                job = json.loads(raw) if raw else {"state": "missing"}
                states[job["state"]] = states.get(job["state"], 0) + 1
                if job.get("finished_at"):
                    finished.append(datetime.fromisoformat(job["finished_at"]).timestamp())
        retries = int(self.redis.hget("ob:stats", "retries") or 0)
        return states, sorted(finished), retries

    def wait_warm_up(self, job_ids: list[str], timeout: float = 180) -> dict[str, int]:
        """Wait for warm-up jobs without waiting for the sweeper.

        A step message that finds the job's lease still held by the step before it is dropped
        (`step.busy`), and the job then waits `stale_after_seconds` for the sweeper. That happens
        mostly when threads are idle, which is exactly the case for a lone warm-up order. When
        nothing is queued or running and a warm-up job is still not final, it is stalled: we
        enqueue its current step ourselves, as the sweeper would. Never done in measured runs.
        """
        from celery import Celery
        producer = Celery("bench-nudge", broker=REDIS_URL)
        producer.conf.update(task_serializer="json", accept_content=["json"])
        deadline = time.monotonic() + timeout
        last_busy = time.monotonic()
        try:
            while True:
                raws = self.redis.mget([f"ob:job:{j}" for j in job_ids])
                jobs = [json.loads(r) if r else {"state": "missing"} for r in raws]
                states: dict[str, int] = {}
                for job in jobs:
                    states[job["state"]] = states.get(job["state"], 0) + 1
                pending = [job for job in jobs if job["state"] not in FINAL_STATES]
                if not pending or time.monotonic() > deadline:
                    return states
                idle = (self.redis.llen(PIPELINE_QUEUE) == 0 and self.redis.hlen("unacked") == 0
                        and not any(self.redis.exists(f"ob:lock:job:{job['job_id']}")
                                    for job in pending if "job_id" in job))
                if not idle:
                    last_busy = time.monotonic()
                elif time.monotonic() - last_busy > 1.0:
                    for job in pending:
                        if job.get("current_step"):
                            producer.send_task(f"orderbridge.{job['current_step']}",
                                               args=[job["job_id"]], queue=PIPELINE_QUEUE)
                            self.nudges += 1
                    last_busy = time.monotonic()
                self.check_alive()
                time.sleep(0.1)
        finally:
            producer.close()

    # --- scenarios -----------------------------------------------------------------------------
    def run_orders(self, scenario: str, run: int, orders: list[dict[str, Any]]) -> RunResult:
        before_calls = self.sim_calls()
        cpu_before = self.cpu_snapshot()
        marks = self.log_marks()
        start, posted, job_ids = self.post_orders(orders)
        timeout = max(300.0, len(orders) * 0.6)
        states, finished, retries = self.wait_jobs(job_ids, timeout)
        observed_end = time.time()
        cpu_after = self.cpu_snapshot()
        after_calls = self.sim_calls()
        ok = states.get("done", 0) == len(orders)
        end = finished[-1] if ok and finished else observed_end
        p50 = p99 = None
        if ok and finished:
            p50 = finished[int(0.5 * len(finished)) - 1] - start
            p99 = finished[max(0, int(0.99 * len(finished)) - 1)] - start
        by_endpoint = {k: v - before_calls["by_endpoint"].get(k, 0)
                       for k, v in after_calls["by_endpoint"].items()
                       if v - before_calls["by_endpoint"].get(k, 0)}
        return RunResult(scenario, run, len(orders), end - start, posted,
                         after_calls["total"] - before_calls["total"], by_endpoint, states,
                         retries, self.cpu_delta(cpu_before, cpu_after),
                         ok, "" if ok else f"not all done: {states}", p50, p99,
                         self.log_events(marks))

    def scenario_new(self, run: int, latency_ms: int) -> RunResult:
        self.prepare(latency_ms)
        orders = new_customer_orders(self.tag(f"n{latency_ms}r{run}x"), self.args.orders)
        return self.run_orders(f"pipeline {latency_ms} ms", run, orders)

    def scenario_returning(self, run: int) -> RunResult:
        self.prepare(0)
        tag = self.tag(f"ret{run}x")
        _, _, warm = self.post_orders(returning_orders(tag, 1))
        states = self.wait_warm_up(warm)
        if states.get("done") != 1:
            raise RuntimeError(f"the warm-up order did not finish: {states}")
        self.redis.delete("ob:stats")
        return self.run_orders("returning customer", run,
                               returning_orders(tag, self.args.orders, start=1))

    def scenario_bare(self, run: int, chains: int | None = None) -> RunResult:
        from bench.bare_chain import COUNTER_KEY, LAST_KEY, TIMES_KEY, make_chain
        chains = chains or self.args.orders
        self.prepare(0)
        cpu_before = self.cpu_snapshot()
        senders = max(1, min(self.args.posters, chains))
        barrier = threading.Barrier(senders + 1)

        def send(count: int) -> None:
            barrier.wait()
            for _ in range(count):
                make_chain().apply_async()

        counts = [chains // senders + (1 if i < chains % senders else 0) for i in range(senders)]
        with ThreadPoolExecutor(senders) as pool:
            futures = [pool.submit(send, c) for c in counts]
            barrier.wait()
            start = time.time()
            for f in futures:
                f.result()
            sent = time.time() - start
        deadline = time.monotonic() + max(300.0, chains * 0.3)
        while int(self.redis.get(COUNTER_KEY) or 0) < chains:
            if time.monotonic() > deadline:
                break
            self.check_alive()
            time.sleep(0.02)
        observed_end = time.time()
        done = int(self.redis.get(COUNTER_KEY) or 0)
        last = float(self.redis.get(LAST_KEY) or 0)
        ok = done == chains
        cpu_after = self.cpu_snapshot()
        finished = sorted(float(t) for t in self.redis.lrange(TIMES_KEY, 0, -1))
        p50 = p99 = None
        if ok and finished:
            p50 = finished[int(0.5 * len(finished)) - 1] - start
            p99 = finished[max(0, int(0.99 * len(finished)) - 1)] - start
        return RunResult("bare chain", run, chains, (last if ok and last else observed_end) - start,
                         sent, None, {}, {"done": done}, 0,
                         self.cpu_delta(cpu_before, cpu_after), ok,
                         "" if ok else f"only {done}/{chains} chains finished", p50, p99)

    def warm_up(self) -> None:
        """A few orders and chains before measuring: imports, connections, the ERP token."""
        self.scenario_bare(0, chains=20)
        self.prepare(0)
        _, _, ids = self.post_orders(new_customer_orders(self.tag("warm"), 20))
        states = self.wait_warm_up(ids)
        if states.get("done") != 20:
            raise RuntimeError(f"warm-up orders did not finish: {states}; logs in {self.tmp}")

    def run_all(self) -> None:
        plan: list[tuple[str, Callable[[int], RunResult]]] = [
            ("bare chain", self.scenario_bare),
            ("pipeline 0 ms", lambda r: self.scenario_new(r, 0)),
            (f"pipeline {self.args.latency_ms} ms",
             lambda r: self.scenario_new(r, self.args.latency_ms)),
            ("returning customer", self.scenario_returning),
        ]
        for run in range(1, self.args.runs + 1):
            for name, scenario in plan:
                console.print(f"run {run}/{self.args.runs}: {name} ...", end=" ")
                try:
                    result = scenario(run)
                except Exception as exc:
                    self.failures.append(f"run {run}, {name}: {type(exc).__name__}: {exc}")
                    console.print(f"[red]failed: {exc}[/red]")
                    if any(not child.alive for child in self.children):
                        raise
                    continue
                self.results.append(result)
                calls = ("" if result.calls_per_order is None
                         else f", {result.calls_per_order:.2f} ERP calls/order")
                flag = "" if result.ok else f" [red]{result.note}[/red]"
                busy = result.events.get("step.busy", 0)
                stalls = f", {busy} step.busy" if busy else ""
                other = result.cpu.get("other processes", 0.0)
                steal = result.cpu.get("steal (hypervisor)", 0.0)
                console.print(f"{result.rate:7.1f}/s in {result.seconds:.1f}s{calls}{stalls}"
                              f" (other processes {other:.1f} CPU s, steal {steal:.1f} s){flag}")


# --- reporting ---------------------------------------------------------------------------------
def median_of(results: list[RunResult], scenario: str, attr: str) -> float | None:
    values = [getattr(r, attr) for r in results if r.scenario == scenario and r.ok]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def median_run(results: list[RunResult], scenario: str) -> RunResult | None:
    runs = sorted((r for r in results if r.scenario == scenario), key=lambda r: r.rate)
    return runs[len(runs) // 2] if runs else None


def summarize(bench: Bench) -> dict[str, Any]:
    results, latency = bench.results, bench.args.latency_ms
    slow = f"pipeline {latency} ms"
    names = ["bare chain", "pipeline 0 ms", slow, "returning customer"]
    medians = {n: {attr: median_of(results, n, attr)
                   for attr in ("rate", "rate_p99", "calls_per_order", "seconds", "post_seconds",
                                "p50", "p99")} for n in names}

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    vs_bare = ratio(medians["pipeline 0 ms"]["rate"], medians["bare chain"]["rate"])
    keep = ratio(medians[slow]["rate"], medians["pipeline 0 ms"]["rate"])
    calls_ret = medians["returning customer"]["calls_per_order"]
    checks = [
        ("pipeline 0 ms / bare chain (orders/s)", vs_bare, f">= {TARGET_VS_BARE:.2f}",
         vs_bare is not None and vs_bare >= TARGET_VS_BARE),
        (f"pipeline {latency} ms / pipeline 0 ms (orders/s)", keep,
         f">= {TARGET_LATENCY_KEEP:.2f}", keep is not None and keep >= TARGET_LATENCY_KEEP),
        ("returning customer: ERP calls per order", calls_ret,
         f"<= {TARGET_CALLS_RETURNING:.2f}",
         calls_ret is not None and calls_ret <= TARGET_CALLS_RETURNING),
    ]
    # The same ratios on the rate up to 99 % completion (the steady state, without stragglers):
    # for reading, not for the verdict.
    steady = [
        ("pipeline 0 ms / bare chain, to 99 %",
         ratio(medians["pipeline 0 ms"]["rate_p99"], medians["bare chain"]["rate_p99"])),
        (f"pipeline {latency} ms / pipeline 0 ms, to 99 %",
         ratio(medians[slow]["rate_p99"], medians["pipeline 0 ms"]["rate_p99"])),
    ]
    return {"names": names, "medians": medians, "checks": checks, "steady": steady}


def machine() -> dict[str, str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = redis.Redis.from_url(REDIS_URL).info("server")

    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "?"

    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": str(os.cpu_count()), "cpu": model or platform.processor(), "memory": mem,
            "python": platform.python_version(), "platform": platform.platform(),
            "celery": version("celery"), "kombu": version("kombu"), "redis-py": version("redis"),
            "httpx": version("httpx"), "uvicorn": version("uvicorn"),
            "redis-server": str(info.get("redis_version", "?"))}


def code_under_test() -> dict[str, str]:
    """The commit the workers ran (read-only git), and the worker settings that shape a run."""
    info: dict[str, str] = {}
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":(exclude)bench"],
                               cwd=ROOT, text=True, capture_output=True, timeout=10).stdout
        info["commit"] = (head or "?") + (" (with uncommitted changes)" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        info["commit"] = "?"
    from workers.settings import WorkerSettings
    defaults = WorkerSettings()
    for name in ("inline_steps", "inline_seconds", "task_events"):
        if hasattr(defaults, name):
            info[f"worker.{name}"] = str(getattr(defaults, name))
    return info


def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def events_text(events: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in events.items() if v) or "-"


def print_tables(bench: Bench, summary: dict[str, Any]) -> None:
    raw = Table("scenario", "run", "s", "orders/s", "to 99 %/s", "POST s", "calls/order",
                "states", "worker log", title="runs")
    for r in bench.results:
        raw.add_row(r.scenario, str(r.run), fmt(r.seconds, 1), fmt(r.rate), fmt(r.rate_p99),
                    fmt(r.post_seconds, 1), fmt(r.calls_per_order, 2),
                    ", ".join(f"{k}={v}" for k, v in sorted(r.states.items())),
                    events_text(r.events))
    console.print(raw)
    med = Table("scenario", "orders/s", "orders/s to 99 %", "seconds", "p50 s", "p99 s",
                "ERP calls/order", title=f"medians of {bench.args.runs} run(s)")
    for name in summary["names"]:
        m = summary["medians"][name]
        med.add_row(name, fmt(m["rate"]), fmt(m["rate_p99"]), fmt(m["seconds"], 1),
                    fmt(m["p50"], 1), fmt(m["p99"], 1), fmt(m["calls_per_order"], 2))
    console.print(med)
    checks = Table("target", "value", "wanted", "verdict", title="targets")
    for label, value, wanted, passed in summary["checks"]:
        checks.add_row(label, fmt(value, 3), wanted,
                       "[green]PASS[/green]" if passed else "[red]FAIL[/red]")
    for label, value in summary["steady"]:
        checks.add_row(f"[dim]{label}[/dim]", fmt(value, 3), "[dim](for reading)[/dim]", "")
    console.print(checks)


def markdown(bench: Bench, summary: dict[str, Any], started: datetime, wall: float) -> str:
    a = bench.args
    m = machine()
    out = ["# orderbridge pipeline benchmark", "",
           f"Run {started.strftime('%Y-%m-%d %H:%M UTC')} with `python -m bench.pipeline "
           f"--orders {a.orders} --runs {a.runs} --workers {a.workers} --concurrency "
           f"{a.concurrency}` (wall time {wall / 60:.1f} min). Medians over {a.runs} run(s).", "",
           "## Targets", "", "| target | value | wanted | verdict |", "|---|---|---|---|"]
    for label, value, wanted, passed in summary["checks"]:
        out.append(f"| {label} | {fmt(value, 3)} | {wanted} | {'PASS' if passed else 'FAIL'} |")
    cores = os.cpu_count() or 1
    disturbed = []
    for r in bench.results:
        share = (r.cpu.get("other processes", 0.0) + r.cpu.get("steal (hypervisor)", 0.0)) \
            / (cores * r.seconds) if r.seconds else 0.0
        if share > 0.10:
            disturbed.append(f"{r.scenario} run {r.run} ({100 * share:.0f} %)")
    if disturbed:
        out += ["", "**Warning: the machine was shared.** Other processes and the hypervisor took "
                "more than 10 % of the machine during: " + ", ".join(disturbed) + ". Those "
                "rates are low by an unknown amount and the ratios are unreliable; compare "
                "worker CPU per order (below), or re-run on a quiet machine."]
    out += ["", "The same rate ratios measured up to 99 % of jobs final (the steady state, "
            "without the slowest 1 %; for reading, not for the verdict): "
            + "; ".join(f"{label}: {fmt(value, 3)}" for label, value in summary["steady"]) + ".",
            "", "## Medians", "",
            "| scenario | orders/s (all final) | orders/s (to 99 %) | seconds | p50 s | p99 s | "
            "POST phase s | ERP calls/order |", "|---|---|---|---|---|---|---|---|"]
    for name in summary["names"]:
        med = summary["medians"][name]
        out.append(f"| {name} | {fmt(med['rate'])} | {fmt(med['rate_p99'])} | "
                   f"{fmt(med['seconds'], 2)} | {fmt(med['p50'], 1)} | {fmt(med['p99'], 1)} | "
                   f"{fmt(med['post_seconds'], 2)} | {fmt(med['calls_per_order'], 2)} |")
    out += ["", "For the bare chain, \"orders\" are chains of 5 tasks and the POST phase is the "
            "time to send them. p50/p99: seconds from the first POST until 50 %/99 % of the jobs "
            "were final.", "", "## ERP calls by endpoint (per order, median run)", ""]
    for name in summary["names"][1:]:
        mid = median_run([r for r in bench.results if r.ok], name)
        if mid is None:
            continue
        per = ", ".join(f"`{k}` {v / mid.orders:.2f}" for k, v in sorted(mid.by_endpoint.items()))
        out.append(f"- {name}: {per}")
    out += ["", "## CPU seconds per process (median run of each scenario)", "",
            "utime+stime of each process during the run; the machine has "
            f"{m['nproc']} cores, so {m['nproc']} x wall seconds is all there is.", ""]
    procs = sorted({k for r in bench.results for k in r.cpu})
    out.append("| scenario | wall s | " + " | ".join(procs) + " |")
    out.append("|---|---|" + "---|" * len(procs))
    for name in summary["names"]:
        mid = median_run(bench.results, name)
        if mid is None:
            continue
        out.append(f"| {name} | {mid.seconds:.1f} | "
                   + " | ".join(f"{mid.cpu.get(p, 0):.1f}" for p in procs) + " |")
    worker_names = [c.name for c in bench.workers]
    per_order = []
    for name in summary["names"]:
        mid = median_run(bench.results, name)
        if mid is None:
            continue
        names = [n for n in mid.cpu if n.startswith("bare-worker")] if name == "bare chain" \
            else worker_names
        ms = 1000 * sum(mid.cpu.get(n, 0.0) for n in names) / mid.orders
        per_order.append(f"{name} {ms:.0f} ms")
    out += ["", "Worker CPU per order (per chain for the bare chain): " + ", ".join(per_order)
            + "."]
    out += ["", "## Raw runs", "",
            "| scenario | run | orders | seconds | orders/s | to 99 % /s | p50 s | p99 s | POST s "
            "| ERP calls | calls/order | states | retries | worker log | note |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in bench.results:
        out.append(f"| {r.scenario} | {r.run} | {r.orders} | {r.seconds:.2f} | {r.rate:.1f} | "
                   f"{fmt(r.rate_p99)} | {fmt(r.p50, 1)} | {fmt(r.p99, 1)} | "
                   f"{r.post_seconds:.2f} | {'' if r.erp_calls is None else r.erp_calls} | "
                   f"{fmt(r.calls_per_order, 2)} | "
                   f"{', '.join(f'{k}={v}' for k, v in sorted(r.states.items()))} | "
                   f"{r.retries} | {events_text(r.events)} | {r.note} |")
    if bench.failures:
        out += ["", "**Failures:**", ""] + [f"- {f}" for f in bench.failures]
    out += ["", "\"worker log\" counts lines in the worker logs during the run: `step.busy` (a "
            "step message found the job's lease taken and was dropped; the job then waits for "
            "the sweeper), `sweep.enqueued` (the sweeper re-enqueued a job), `not_current` (a "
            "stale message for a step already done), retries, dead letters, errors.",
            "", "## Machine", ""]
    out += [f"- {k}: {v}" for k, v in m.items()]
    out += ["", "## Settings", "",
            f"- Redis `{REDIS_URL}` (flushed at start), everything on 127.0.0.1.",
            f"- Pipeline: {a.workers} `orderbridge worker` process(es), pool `threads`, "
            f"concurrency {a.concurrency}, log level {a.log_level} (JSON lines to a file); one "
            "intake (uvicorn, one process); PowerOffice simulator (uvicorn, one process) with "
            "its per-key rate limit disabled (`rate_limit_per_second = 0`).",
            f"- Worker timings: `stale_after_seconds = {a.stale_after:g}`, "
            f"`queued_stale_after_seconds = {a.queued_stale_after:g}`, "
            f"`sweep_interval_seconds = {a.sweep_interval:g}` (the defaults of "
            "`WorkerSettings` unless changed by flags).",
            f"- `requests_per_second = {a.requests_per_second:g}` on the connection, so "
            "orderbridge's own shared request budget (10/s by default for PowerOffice) does not "
            "throttle the measurement. With the default budget the pipeline could not exceed "
            "10 ERP calls/s, i.e. about 1.4 new-customer orders/s or 10 returning orders/s.",
            "- Code under test: " + ", ".join(f"{k} `{v}`" for k, v in bench.code.items())
            + " (worker settings at their defaults, as read when the run started).",
            "- Orders: 3 product lines each, `send_invoice = false`, so 4 pipeline steps per "
            "order (upsert_customer, upsert_products, check_duplicate, create_draft); one Celery "
            "task each, or fewer where the worker runs following steps inline. New-customer "
            "scenarios use a distinct customer and 3 distinct SKUs per order (worst case); the "
            "returning-customer scenario posts one warm-up order first, then every order has the "
            "same customer and SKUs.",
            f"- Orders are posted over HTTP by {a.posters} threads (one keep-alive client each); "
            "a run is timed from the first POST to the latest `finished_at` of its jobs "
            "(end to end, so it includes intake time, which overlaps with processing).",
            f"- Added latency for the slow scenario: {a.latency_ms} ms on every simulator call "
            "(`POST /_sim/latency`).",
            f"- Bare chain: `bench/bare_chain.py`, {a.workers} `celery worker -P threads -c "
            f"{a.concurrency}` process(es) on queue `bench-bare` of the same Redis database; acks late, "
            "prefetch 1, JSON, no result backend, no task events (the pipeline worker runs with "
            "`-E` and sent events); chains of 5 immutable `bench.noop` signatures, the fifth "
            f"counting finished chains; sent by {a.posters} threads; timed from the first send to "
            "the last chain's end.",
            "- Between scenarios: queues drained, orderbridge keys removed (tokens and worker "
            "liveness kept), simulator reset. Before measuring, 20 chains and 20 orders warm up "
            "the processes. Scenarios are interleaved run by run.",
            f"- Warm-up orders that stalled on the lease race (see `step.busy`) were re-enqueued "
            f"by the benchmark instead of waiting for the sweeper: {bench.nudges} time(s). "
            "Measured runs are never touched.",
            f"- Before each scenario the benchmark waited up to {a.wait_for_quiet:g} s for other "
            "processes to use less than 0.2 core (`--wait-for-quiet`).",
            "- \"other processes\" CPU: the machine's busy time during the run minus our "
            "processes'; non-zero means something else (e.g. someone's test suite) shared the "
            "machine, and redis-server's figure then includes their use of it too. \"steal\": "
            "time the hypervisor gave this VM's cores to someone else.",
            f"- Process logs of this run: `{bench.tmp}`.", ""]
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1000, help="orders (and chains) per run")
    parser.add_argument("--runs", type=int, default=None, help="runs per scenario (default 3)")
    parser.add_argument("--quick", action="store_true", help="one run per scenario")
    parser.add_argument("--workers", type=int, default=1, help="orderbridge worker processes")
    parser.add_argument("--concurrency", type=int, default=32, help="threads per worker")
    parser.add_argument("--posters", type=int, default=8, help="threads posting orders/chains")
    parser.add_argument("--latency-ms", type=int, default=150, help="added simulator latency")
    parser.add_argument("--log-level", default="INFO", help="log level of intake and workers")
    parser.add_argument("--requests-per-second", type=float, default=100000,
                        help="orderbridge's own request budget for the connection")
    parser.add_argument("--stale-after", type=float, default=45.0,
                        help="worker.stale_after_seconds (default: the WorkerSettings default)")
    parser.add_argument("--queued-stale-after", type=float, default=600.0,
                        help="worker.queued_stale_after_seconds (default: WorkerSettings')")
    parser.add_argument("--sweep-interval", type=float, default=1.0,
                        help="worker.sweep_interval_seconds (default: WorkerSettings')")
    parser.add_argument("--wait-for-quiet", type=float, default=10.0,
                        help="before each scenario, wait up to this many seconds for other "
                             "processes on the machine to go quiet (0: don't)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "reports" / "pipeline.md"))
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    return args


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(ROOT)  # children run `python -m ...` and must find the packages
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    bench = Bench(args)
    # SIGTERM behaves like Ctrl-C, so the finally below stops every child either way. SIGINT is
    # set explicitly too: a shell starts background jobs with it ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    interrupted = False
    try:
        console.print(f"starting simulator, {args.workers} worker(s), intake, bare worker(s) "
                      f"(logs in {bench.tmp})")
        bench.start()
        bench.warm_up()
        bench.run_all()
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        interrupted = True
        bench.failures.append("interrupted (partial results)")
    except Exception as exc:
        bench.failures.append(f"aborted: {type(exc).__name__}: {exc}")
        console.print(f"[red]aborted: {exc}[/red]")
    finally:
        bench.stop()
    if interrupted and not bench.results:
        return 130
    summary = summarize(bench)
    print_tables(bench, summary)
    report = markdown(bench, summary, started, time.monotonic() - t0)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    console.print(f"report written to {out}")
    if interrupted:
        return 130
    if bench.failures:
        return 2
    return 0 if all(passed for *_, passed in summary["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
