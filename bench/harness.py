"""The machinery of the pipeline benchmark: its processes, and running one measured batch.

`Bench` starts the PowerOffice simulator, the intake and the bare 202 endpoint first (the
open-loop intake measurement runs with nothing else busy), then the orderbridge workers, the
bare Celery workers and the workers of the user's own chain, all child processes on 127.0.0.1
(Redis database 12, flushed); it resets Redis and the simulator between scenarios, and turns one
batch of orders (or chains, or a script run) into a `RunResult` with CPU seconds per process.
Sending and waiting is `bench.traffic`, the open loop `bench.openloop`; what is posted, and in
which order, is `bench.scenarios`' business.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import redis
from rich.console import Console

from bench import traffic, user_erp
from bench.measure import (
    RunResult,
    code_under_test,
    completion_percentiles,
    count_log_events,
    cpu_delta,
    cpu_seconds,
    machine_cpu_seconds,
    peak_rss_mib,
    percentiles,
)
from bench.openloop import LoadResult, run_load
from bench.traffic import PIPELINE_QUEUE
from core.broker import QUEUE
from core.store import DUE, TOKENS, WORKERS, Store
from tests.support.config import orderbridge_toml, poweroffice_connection
from workers.processes import Child, free_port, port_open, spawn, wait_until

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/12"
SHOP_TOKEN = "bench-shop-token"
OPERATOR_TOKEN = "bench-op-token"
BARE_QUEUE = "bench-bare"
USER_QUEUE = "bench-user"

console = Console()

Scenario = Callable[[int], RunResult]


def config_toml(
    args: argparse.Namespace, sim_url: str, intake_port: int, pool: str = "threads"
) -> str:
    """The configuration of the workers and the intake: the test builder's shape with the
    benchmark's Redis database, tokens and worker timings, and our own request budget lifted
    (`requests_per_second`) so that it does not throttle the measurement."""
    connection = poweroffice_connection(
        sim_url, api_token=SHOP_TOKEN, requests_per_second=args.requests_per_second
    )
    return orderbridge_toml(
        redis_url=REDIS_URL,
        intake_port=intake_port,
        connections={"shop": connection},
        operator_token=OPERATOR_TOKEN,
        log_format="json",
        log_level=args.log_level,
        retry={"base_seconds": 0.2, "cap_seconds": 2, "window_seconds": 120},
        worker={
            "pool": pool,
            "concurrency": args.concurrency,
            "stale_after_seconds": args.stale_after,
            "queued_stale_after_seconds": args.queued_stale_after,
            "sweep_interval_seconds": args.sweep_interval,
            "visibility_timeout_seconds": 300,
            "send_poll_seconds": 2,
        },
    )


class Bench:
    """The child processes of one benchmark invocation and the results of its runs."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        # Read before the workers start: they import the code on disk at that moment.
        self.code = code_under_test(ROOT)
        self.tmp = Path(tempfile.mkdtemp(prefix="orderbridge-bench-"))
        self.redis = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        self.store = Store(self.redis)
        self.children: list[Child] = []
        self.workers: list[Child] = []
        self.intake: Child | None = None
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
        self.bare_intake_port = free_port()
        self.bare_intake_url = f"http://127.0.0.1:{self.bare_intake_port}"
        self.loads: list[LoadResult] = []
        self.rss: dict[str, float] = {}  # peak resident MiB per process, read before stopping

    # --- processes ---------------------------------------------------------------------------
    def start(self) -> None:
        """Everything: the services, then the workers."""
        self.start_services()
        self.start_workers()

    def start_services(self) -> None:
        """Simulator, intake and the bare 202 endpoint; no worker yet (the open-loop intake
        measurement wants the intake alone)."""
        self.redis.flushdb()
        log = str(self.tmp / "simulator.log")
        sim = spawn(
            "simulator",
            ["simulate", "poweroffice", "--port", str(self.sim_port)],
            dict(os.environ),
            log,
        )
        self.children.append(sim)
        wait_until(lambda: port_open(self.sim_port), 30, "the simulator", children=[sim])
        sim_url = f"http://127.0.0.1:{self.sim_port}"
        self.sim = httpx.Client(base_url=sim_url, timeout=60)
        self.sim_reset(0)

        config = self.tmp / "orderbridge.toml"
        config.write_text(config_toml(self.args, sim_url, self.intake_port))
        self.env = {
            **os.environ,
            "ORDERBRIDGE_CONFIG": str(config),
            "ORDERBRIDGE_REDIS_URL": REDIS_URL,
        }
        intake = spawn("intake", ["intake"], self.env, str(self.tmp / "intake.log"))
        self.children.append(intake)
        self.intake = intake
        bare = self._popen(
            "bare-intake", ["-m", "bench.bare_intake", str(self.bare_intake_port)], dict(os.environ)
        )
        wait_until(lambda: port_open(self.intake_port), 30, "the intake", children=[intake])
        wait_until(
            lambda: port_open(self.bare_intake_port), 30, "the bare 202 endpoint", children=[bare]
        )

    def start_workers(self) -> None:
        """orderbridge workers, then the bare chain's and the user chain's workers."""
        for index in range(self.args.workers):
            child = spawn(
                f"worker{index}", ["worker"], self.env, str(self.tmp / f"worker{index}.log")
            )
            self.children.append(child)
            self.workers.append(child)
        for child in self.workers:
            wait_until(
                functools.partial(self.store.worker_alive, child.proc.pid),
                60,
                f"{child.name} to be ready",
                children=[child],
            )
        from bench.bare_chain import READY_KEY as BARE_READY

        self.start_celery_workers("bare-worker", "bench.bare_chain", BARE_QUEUE, BARE_READY)
        self.start_celery_workers("user-worker", "bench.user_chain", USER_QUEUE, user_erp.READY_KEY)

    @property
    def user_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "BENCH_REDIS_URL": REDIS_URL,
            "BENCH_SIM_URL": f"http://127.0.0.1:{self.sim_port}",
        }

    def _popen(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        """`python <argv>` as a child in its own session, logging to the temporary directory."""
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, *argv],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def start_celery_workers(self, prefix: str, module: str, queue: str, ready: str) -> None:
        """As many Celery workers of `module` as orderbridge workers, same pool and
        concurrency, each ready once it has written its `ready` key."""
        started = [
            self._popen(
                f"{prefix}{index}",
                [
                    "-m",
                    "celery",
                    "-A",
                    module,
                    "worker",
                    "-P",
                    "threads",
                    "-c",
                    str(self.args.concurrency),
                    "-Q",
                    queue,
                    "--without-mingle",
                    "--without-gossip",
                    "--loglevel",
                    "WARNING",
                    "-n",
                    f"{prefix}-{os.getpid()}-{index}@%h",
                ],
                self.user_env,
            )
            for index in range(self.args.workers)
        ]
        for child in started:
            wait_until(
                functools.partial(self._exists, ready.format(pid=child.proc.pid)),
                60,
                f"{child.name} to be ready",
                children=[child],
            )

    def worker_names(self, prefix: str) -> tuple[str, ...]:
        return tuple(c.name for c in self.children if c.name.startswith(prefix))

    def _exists(self, key: str) -> bool:
        return bool(self.redis.exists(key))

    def read_rss(self) -> None:
        """Peak resident memory (VmHWM) of every child and every process below it."""
        for child in self.children:
            if not child.alive:
                continue
            for pid, mib in peak_rss_mib(child.proc.pid).items():
                name = child.name if pid == child.proc.pid else f"{child.name} child {pid}"
                self.rss[name] = max(mib, self.rss.get(name, 0.0))

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.read_rss()
        if self.sim is not None:
            self.sim.close()
        for child in reversed(self.children):
            try:
                child.stop(timeout=20)
            except (OSError, subprocess.SubprocessError) as exc:  # keep stopping the others
                console.print(f"[red]could not stop {child.name}: {exc}[/red]")
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    child.kill()

    def check_alive(self) -> None:
        for child in self.children:
            if not child.alive:
                raise RuntimeError(
                    f"{child.name} exited with {child.proc.returncode}; see {self.tmp}"
                )

    def log_marks(self) -> dict[Path, int]:
        """The current size of every worker's log, to count what they log from now on."""
        logs = (self.tmp / f"{c.name}.log" for c in self.workers)
        return {path: path.stat().st_size for path in logs}

    def cpu_snapshot(self) -> dict[str, float]:
        snap = {child.name: cpu_seconds(child.proc.pid) for child in self.children}
        snap["redis-server"] = cpu_seconds(self.redis_pid) if self.redis_pid else 0.0
        times = os.times()
        snap["bench (posting, polling)"] = times.user + times.system
        snap["_machine"], snap["_steal"] = machine_cpu_seconds()
        return snap

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
            return (
                self.redis.llen(PIPELINE_QUEUE) == 0
                and self.redis.llen(QUEUE) == 0
                and self.redis.llen(BARE_QUEUE) == 0
                and self.redis.llen(USER_QUEUE) == 0
                and self.redis.hlen("unacked") == 0
                and self.redis.zcard(DUE.key()) == 0
            )

        wait_until(quiet, timeout, "the queues to drain", interval=0.1, children=self.children)

    def clean_redis(self) -> None:
        """Forget jobs, caches, counters; keep worker liveness keys, tokens and kombu's keys."""
        keep = (
            WORKERS.key(""),
            TOKENS.key(""),
            "bench:bare:worker:",
            "bench:user:worker:",
        )
        batch: list[str] = []
        for pattern in (Store.key("*"), "bench:*"):
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
        return cpu_delta(before, self.cpu_snapshot())["other processes"] / seconds

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
        """POST every order to the intake; returns (start wall time, seconds, job ids)."""
        return traffic.post_orders(self.intake_url, SHOP_TOKEN, orders, self.args.posters)

    def wait_warm_up(self, job_ids: list[str]) -> dict[str, int]:
        """Wait for warm-up jobs, re-enqueueing stalled ones (`traffic.wait_warm_up`)."""
        states, nudges = traffic.wait_warm_up(self.redis, REDIS_URL, job_ids, self.check_alive)
        self.nudges += nudges
        return states

    # --- measured runs -------------------------------------------------------------------------
    def _calls_between(
        self, before: dict[str, Any], after: dict[str, Any]
    ) -> tuple[int, dict[str, int]]:
        by_endpoint = {
            k: v - before["by_endpoint"].get(k, 0)
            for k, v in after["by_endpoint"].items()
            if v - before["by_endpoint"].get(k, 0)
        }
        return after["total"] - before["total"], by_endpoint

    def run_orders(self, scenario: str, run: int, orders: list[dict[str, Any]]) -> RunResult:
        """Post `orders`, wait until all are final; timed from the first POST to the latest
        `finished_at`, with ERP calls counted by the simulator."""
        before_calls = self.sim_calls()
        cpu_before = self.cpu_snapshot()
        marks = self.log_marks()
        start, posted, job_ids = self.post_orders(orders)
        timeout = max(300.0, len(orders) * 0.6)
        states, finished, retries, to_draft = traffic.wait_jobs(
            self.redis, job_ids, timeout, self.check_alive
        )
        observed_end = time.time()
        cpu_after = self.cpu_snapshot()
        calls, by_endpoint = self._calls_between(before_calls, self.sim_calls())
        ok = states.get("done", 0) == len(orders)
        end = finished[-1] if ok and finished else observed_end
        p50, p99 = completion_percentiles(finished, start) if ok else (None, None)
        d50, d99 = percentiles(to_draft)
        return RunResult(
            scenario,
            run,
            len(orders),
            end - start,
            posted,
            calls,
            by_endpoint,
            states,
            retries,
            cpu_delta(cpu_before, cpu_after),
            ok,
            "" if ok else f"not all done: {states}",
            p50,
            p99,
            count_log_events(marks),
            d50,
            d99,
            system="orderbridge",
            processes=(*self.worker_names("worker"), "intake"),
        )

    def run_chains(self, scenario: str, run: int, chains: int) -> RunResult:
        """Send `chains` bare Celery chains from a few threads and wait until the last one
        finished; timed from the first send to the last chain's end."""
        from bench.bare_chain import COUNTER_KEY, LAST_KEY, TIMES_KEY

        cpu_before = self.cpu_snapshot()
        start, sent = traffic.send_chains(chains, self.args.posters)
        traffic.wait_chains(self.redis, chains, self.check_alive)
        observed_end = time.time()
        done = int(self.redis.get(COUNTER_KEY) or 0)
        last = float(self.redis.get(LAST_KEY) or 0)
        ok = done == chains
        cpu_after = self.cpu_snapshot()
        finished = sorted(float(t) for t in self.redis.lrange(TIMES_KEY, 0, -1))
        p50, p99 = completion_percentiles(finished, start) if ok else (None, None)
        return RunResult(
            scenario,
            run,
            chains,
            (last if ok and last else observed_end) - start,
            sent,
            None,
            {},
            {"done": done},
            0,
            cpu_delta(cpu_before, cpu_after),
            ok,
            "" if ok else f"only {done}/{chains} chains finished",
            p50,
            p99,
            system="bare chain",
            processes=self.worker_names("bare-worker"),
        )

    def _user_result(
        self,
        scenario: str,
        run: int,
        orders: int,
        start: float,
        sent: float,
        done: int,
        before_calls: dict[str, Any],
        cpu: dict[str, float],
        system: str,
        processes: tuple[str, ...],
    ) -> RunResult:
        """A run of the user's code: timings as its tasks recorded them in Redis."""
        finished, to_draft = traffic.user_timings(self.redis)
        calls, by_endpoint = self._calls_between(before_calls, self.sim_calls())
        ok = done == orders
        last = finished[-1] if finished else time.time()
        p50, p99 = completion_percentiles(finished, start) if ok else (None, None)
        d50, d99 = percentiles(to_draft)
        return RunResult(
            scenario,
            run,
            orders,
            last - start,
            sent,
            calls,
            by_endpoint,
            {"done": done},
            0,
            cpu,
            ok,
            "" if ok else f"only {done}/{orders} finished",
            p50,
            p99,
            {},
            d50,
            d99,
            system=system,
            processes=processes,
        )

    def run_user_chains(self, scenario: str, run: int, orders: list[dict[str, Any]]) -> RunResult:
        """One user chain per order, sent from a few threads; timed from the first send to the
        last chain's fifth task."""
        before_calls = self.sim_calls()
        cpu_before = self.cpu_snapshot()
        start, sent = traffic.send_user_chains(orders, self.args.posters)
        done = traffic.wait_counter(self.redis, user_erp.DONE_KEY, len(orders), self.check_alive)
        cpu = cpu_delta(cpu_before, self.cpu_snapshot())
        return self._user_result(
            scenario,
            run,
            len(orders),
            start,
            sent,
            done,
            before_calls,
            cpu,
            "user chain",
            self.worker_names("user-worker"),
        )

    def run_script(self, scenario: str, run: int, orders: list[dict[str, Any]]) -> RunResult:
        """The sequential script on `orders`, in a fresh process; timed from the moment it is
        told to start until its last order is done. Its CPU and peak memory are its own
        (read from /proc just before it exits: it waits for a line on stdin to exit)."""
        path = self.tmp / f"orders-{scenario.replace(' ', '-')}-{run}.json"
        path.write_text(json.dumps(orders))
        log = open(self.tmp / "script.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.user_script", str(path)],
            env=self.user_env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
        child = Child("script", proc, log)
        try:
            assert proc.stdin is not None and proc.stdout is not None
            if proc.stdout.readline().strip() != b"ready":
                raise RuntimeError(f"the script did not start; see {self.tmp / 'script.log'}")
            before_calls = self.sim_calls()
            cpu_before = {**self.cpu_snapshot(), "script": cpu_seconds(proc.pid)}
            start = time.time()
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            done = traffic.wait_counter(
                self.redis,
                user_erp.DONE_KEY,
                len(orders),
                lambda: None if child.alive else _died(child),
            )
            cpu_after = {**self.cpu_snapshot(), "script": cpu_seconds(proc.pid)}
            mib = peak_rss_mib(proc.pid).get(proc.pid, 0.0)
            self.rss["script"] = max(mib, self.rss.get("script", 0.0))
            proc.stdin.close()
            proc.wait(timeout=30)
        finally:
            child.stop(timeout=10)
        cpu = cpu_delta(cpu_before, cpu_after)
        cpu["other processes"] = max(0.0, cpu["other processes"] - cpu["script"])
        return self._user_result(
            scenario, run, len(orders), start, 0.0, done, before_calls, cpu, "script", ("script",)
        )

    def run_intake_load(self, rate: float, seconds: float, target: str) -> LoadResult:
        """Open loop at `rate` requests/s for `seconds` against the intake ("orderbridge") or
        the bare 202 endpoint ("bare endpoint"): distinct new-customer orders, a valid token."""
        from bench.scenarios import new_customer_orders

        count = max(1, int(rate * seconds))
        orders = new_customer_orders(self.tag(f"load{int(rate)}x"), count)
        bodies = [json.dumps(order).encode() for order in orders]
        url = self.intake_url if target == "orderbridge" else self.bare_intake_url
        headers = {"Authorization": f"Bearer {SHOP_TOKEN}", "Content-Type": "application/json"}
        cpu_before = self.cpu_snapshot()
        result, _ = run_load(
            target,
            url,
            traffic.ORDERS_PATH,
            bodies,
            rate,
            headers,
            connections=self.args.load_connections,
        )
        result.cpu = cpu_delta(cpu_before, self.cpu_snapshot())
        return result

    def console_load(self, r: LoadResult) -> None:
        def ms(v: float | None) -> str:
            return "n/a" if v is None else f"{1000 * v:.0f} ms"

        other = r.cpu.get("other processes", 0.0)
        console.print(
            f"open loop {r.rate:.0f}/s, {r.target}: p50 {ms(r.p50)}, p99 {ms(r.p99)}, "
            f"achieved {r.achieved:.0f}/s, errors {r.errors} "
            f"(other processes {other:.1f} CPU s)"
        )

    def run_all(self, plan: list[tuple[str, Scenario]]) -> None:
        """Every scenario of `plan` once per run, interleaved run by run; a failed scenario is
        noted and skipped unless a child process died."""
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
                calls = (
                    ""
                    if result.calls_per_order is None
                    else f", {result.calls_per_order:.2f} ERP calls/order"
                )
                if result.draft_p99 is not None:
                    calls += f", to draft p99 {result.draft_p99:.1f}s"
                flag = "" if result.ok else f" [red]{result.note}[/red]"
                busy = result.events.get("step.busy", 0)
                stalls = f", {busy} step.busy" if busy else ""
                other = result.cpu.get("other processes", 0.0)
                steal = result.cpu.get("steal (hypervisor)", 0.0)
                console.print(
                    f"{result.rate:7.1f}/s in {result.seconds:.1f}s{calls}{stalls}"
                    f" (other processes {other:.1f} CPU s, steal {steal:.1f} s){flag}"
                )


def _died(child: Child) -> None:
    raise RuntimeError(f"{child.name} exited with {child.proc.returncode}")
