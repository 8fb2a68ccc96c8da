"""Scale-out benchmark (issue 18): do two worker hosts, each capped at half a core, move about
twice the orders per second of one?

```sh
make scaleout                       # = .venv/bin/python -m bench.scaleout (about 15 min)
.venv/bin/python -m bench.scaleout --orders 200 --runs 1 --out /tmp/scaleout.md   # a short look
```

A "host" is a control group of our own (`bench.cgroups`) holding `--workers-per-host`
`orderbridge worker` processes (thread pool, `--concurrency` threads), capped at `--cores`
(0.5: `cpu.max = 50000 100000`, or v1's `cpu.cfs_quota_us = 50000`). Redis (a private
redis-server on a free port, never the machine's), the PowerOffice simulator (its rate limit off,
`--latencies` ms added to every call) and the intake run outside the caps, in one uncapped group.
All our groups get `--weight` times an ordinary process's CPU weight: the machine is shared, and
a host must get the half core it is capped at, so that the cap and not other people's work
binds (the report shows how often each host was throttled at its cap, and everybody else's CPU).

One run: fresh workers on the hosts, frozen (SIGSTOP) once ready; `--orders` new-customer orders
POSTed to the intake (they wait in admission's wait set); the workers thawed (SIGCONT), and
orders/s is orders divided by the seconds from the thaw to the last job's `finished_at`. Every
order must be in the simulator exactly once. Runs alternate 1 host / 2 hosts at each latency,
`--runs` times; medians of the runs, ratios against the 1-host median. The connection's ERP
budget (`--requests-per-second`) is far above the load, so only the hosts' CPU and the ERP's
latency bind. Writes `--out` (default bench/reports/scaleout.md).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import scaleout_report, traffic
from bench.cgroups import CpuGroup, layout
from bench.chaos_cluster import RedisServer
from bench.measure import cpu_seconds, descendants, machine, machine_cpu_seconds
from bench.scenarios import new_customer_orders
from tests.support.config import orderbridge_toml, poweroffice_connection
from workers.processes import Child, free_port, port_open, spawn, stop_all, wait_until

SHOP_TOKEN = "scaleout-shop-token"
OPERATOR_TOKEN = "scaleout-op-token"
REPORT = Path(__file__).resolve().parent / "reports" / "scaleout.md"


@dataclass
class Run:
    """One measured batch."""

    latency_ms: int
    hosts: int
    run: int
    orders: int
    seconds: float  # thaw to the last job's finished_at
    ok: bool
    note: str
    post_seconds: float
    steady_rate: float | None  # orders/s between the 10th and the 90th percentile finish
    host_cores: list[float]  # CPU the workers of each host used, in cores, over `seconds`
    throttled: list[float]  # share of each host's periods in which it hit its cap
    services_cores: dict[str, float]  # redis-server, simulator, intake
    other_cores: float  # every other process on the machine
    load: tuple[float, float]  # 1-minute load average at the thaw and at the end
    erp_calls: int = 0

    @property
    def rate(self) -> float:
        return self.orders / self.seconds if self.ok and self.seconds > 0 else 0.0


@dataclass
class ScaleOut:
    args: argparse.Namespace
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ob-scaleout-")))
    children: list[Child] = field(default_factory=list)
    groups: list[CpuGroup] = field(default_factory=list)  # [0] the services, then the hosts
    runs: list[Run] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.redis = RedisServer(self.tmp, fsync="no")
        self.sim_port, self.intake_port = free_port(), free_port()
        self.sim = httpx.Client(base_url=f"http://127.0.0.1:{self.sim_port}", timeout=60)
        self.env: dict[str, str] = {}
        self.name = f"ob-scaleout-{os.getpid()}"
        self.machine: dict[str, str] = {}
        self.failure = ""

    # --- processes ---------------------------------------------------------------------------
    def start(self) -> None:
        """The uncapped group with Redis, the simulator and the intake; one capped group per
        host (workers come and go per run)."""
        services = CpuGroup.create(f"{self.name}-services", None, self.args.weight)
        self.groups.append(services)
        for index in range(max(self.args.hosts)):
            self.groups.append(
                CpuGroup.create(f"{self.name}-host{index + 1}", self.args.cores, self.args.weight)
            )
        self.redis.start()
        assert self.redis.proc is not None
        self._join(services, self.redis.proc.pid)
        self.machine = machine(self.redis.url)
        config = self.tmp / "orderbridge.toml"
        config.write_text(self.config(), encoding="utf-8")
        self.env = {
            **os.environ,
            "ORDERBRIDGE_CONFIG": str(config),
            "ORDERBRIDGE_REDIS_URL": self.redis.url,
        }
        sim = spawn(
            "simulator",
            ["simulate", "poweroffice", "--port", str(self.sim_port)],
            dict(os.environ),
            str(self.tmp / "simulator.log"),
        )
        intake = spawn("intake", ["intake"], self.env, str(self.tmp / "intake.log"))
        self.children += [sim, intake]
        for child in (sim, intake):
            self._join(services, child.proc.pid)
        for port in (self.sim_port, self.intake_port):
            wait_until(
                functools.partial(port_open, port), 60, f"port {port}", children=self.children
            )

    def config(self) -> str:
        connection = poweroffice_connection(
            f"http://127.0.0.1:{self.sim_port}",
            api_token=SHOP_TOKEN,
            requests_per_second=self.args.requests_per_second,
        )
        return orderbridge_toml(
            redis_url=self.redis.url,
            intake_port=self.intake_port,
            connections={"shop": connection},
            operator_token=OPERATOR_TOKEN,
            log_format="json",
            log_level="WARNING",
            retry={"base_seconds": 0.2, "cap_seconds": 2, "window_seconds": 300},
            worker={
                "pool": "threads",
                "concurrency": self.args.concurrency,
                "visibility_timeout_seconds": 600,
            },
        )

    @staticmethod
    def _join(group: CpuGroup, pid: int) -> None:
        """Move `pid` and everything below it into `group`."""
        for each in descendants(pid):
            with contextlib.suppress(OSError):  # (one that has just exited)
                group.add(each)

    def start_workers(self, hosts: int, tag: str) -> list[list[Child]]:
        """`--workers-per-host` workers in each of the first `hosts` host groups, ready."""
        started: list[list[Child]] = []
        for host in range(hosts):
            group = self.groups[1 + host]
            workers = []
            for index in range(self.args.workers_per_host):
                name = f"{tag}-host{host + 1}-worker{index}"
                child = spawn(name, ["worker"], self.env, str(self.tmp / f"{name}.log"))
                self._join(group, child.proc.pid)  # still importing: nothing forked yet
                workers.append(child)
            started.append(workers)
        store = self.redis.store()
        for child in (c for host in started for c in host):
            wait_until(
                functools.partial(store.worker_alive, child.proc.pid),
                120,
                f"{child.name} to be ready",
                children=[child],
            )
        return started

    def stop(self) -> None:
        self.sim.close()
        stop_all(self.children)
        self.redis.stop("kill")
        for group in reversed(self.groups):
            try:
                group.remove()
            except OSError as exc:
                print(f"could not remove {group.path}: {exc}", file=sys.stderr)

    # --- one run -------------------------------------------------------------------------------
    def reset(self, latency_ms: int) -> None:
        self.redis.store().redis.flushall()
        self.sim.post("/_sim/reset").raise_for_status()
        self.sim.post("/_sim/config", json={"rate_limit_per_second": 0}).raise_for_status()
        self.sim.post("/_sim/latency", json={"ms": latency_ms}).raise_for_status()

    def measure(self, latency_ms: int, hosts: int, run: int) -> Run:
        self.reset(latency_ms)
        tag = f"r{run}-{latency_ms}ms-{hosts}h"
        started = self.start_workers(hosts, tag)
        workers = [c for host in started for c in host]
        try:
            for child in workers:
                os.killpg(child.proc.pid, signal.SIGSTOP)
            orders = new_customer_orders(tag, self.args.orders)
            _, post_seconds, job_ids = traffic.post_orders(
                f"http://127.0.0.1:{self.intake_port}", SHOP_TOKEN, orders, self.args.posters
            )
            before = self.snapshot(started)
            load_start = os.getloadavg()[0]
            thawed = time.time()
            for child in workers:
                os.killpg(child.proc.pid, signal.SIGCONT)
            states, finished, _, _ = traffic.wait_jobs(
                self.redis.store().redis,
                job_ids,
                max(300.0, self.args.orders * 1.0),
                lambda: self.check_alive(workers),
            )
            after = self.snapshot(started)
            load_end = os.getloadavg()[0]
        finally:
            stop_all(workers)
        done = states.get("done", 0) == len(job_ids)
        seconds = (finished[-1] if done and finished else time.time()) - thawed
        once, erp_calls = self.exactly_once(job_ids, orders)
        ok = done and once == ""
        note = "" if ok else (once or f"not all done: {states}")
        steady = steady_rate(finished) if done else None
        host_cores, throttled, services, other = usage(before, after)
        return Run(
            latency_ms,
            hosts,
            run,
            len(job_ids),
            seconds,
            ok,
            note,
            post_seconds,
            steady,
            host_cores,
            throttled,
            services,
            other,
            (load_start, load_end),
            erp_calls,
        )

    def snapshot(self, started: list[list[Child]]) -> dict[str, Any]:
        """CPU seconds so far: per host (its workers), per service, this process, the
        machine; each host group's throttling counters."""
        busy, _ = machine_cpu_seconds()
        times = os.times()
        return {
            "wall": time.time(),
            "hosts": [sum(cpu_seconds(c.proc.pid) for c in host) for host in started],
            "groups": [self.groups[1 + i].stats() for i in range(len(started))],
            "services": {
                "redis-server": cpu_seconds(self.redis.proc.pid) if self.redis.proc else 0.0,
                **{c.name: cpu_seconds(c.proc.pid) for c in self.children},
            },
            "self": times.user + times.system,
            "machine": busy,
        }

    def exactly_once(self, job_ids: list[str], orders: list[dict[str, Any]]) -> tuple[str, int]:
        """ "" when the simulator holds each order's sales order exactly once (else what is
        wrong), and the ERP calls the run made."""
        state = self.sim.get("/_sim/state").json()
        references = [o["ExternalImportReference"] for o in state["SalesOrders"]]
        wanted = sorted(o["external_id"] for o in orders)
        calls = int(self.sim.get("/_sim/calls").json()["total"])
        if sorted(references) != wanted:
            extra = len(references) - len(set(references))
            return (
                f"{len(set(references))} of {len(wanted)} orders in the ERP, {extra} twice",
                calls,
            )
        return "", calls

    def check_alive(self, workers: list[Child]) -> None:
        for child in [*self.children, *workers]:
            if not child.alive:
                raise RuntimeError(f"{child.name} exited with {child.proc.returncode}; {self.tmp}")

    def run_all(self) -> None:
        for run in range(1, self.args.runs + 1):
            for latency in self.args.latencies:
                for hosts in self.args.hosts:
                    print(f"run {run}/{self.args.runs}: {latency} ms, {hosts} host(s) ...", end=" ")
                    sys.stdout.flush()
                    result = self.measure(latency, hosts, run)
                    self.runs.append(result)
                    print(scaleout_report.line(result), flush=True)


def steady_rate(finished: list[float]) -> float | None:
    """Orders/s between the 10th and the 90th percentile of the sorted finish times: the rate
    without the start (workers waking) and the last orders' own duration at the end."""
    low, high = int(0.1 * len(finished)), int(0.9 * len(finished)) - 1
    if high <= low or finished[high] <= finished[low]:
        return None
    return (high - low) / (finished[high] - finished[low])


def usage(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[list[float], list[float], dict[str, float], float]:
    """Between two snapshots: cores used per host, the share of each host's periods throttled
    at its cap, cores used per service, and cores used by every other process."""
    wall = after["wall"] - before["wall"]
    hosts = [a - b for a, b in zip(after["hosts"], before["hosts"], strict=True)]
    services = {k: after["services"][k] - before["services"][k] for k in after["services"]}
    ours = sum(hosts) + sum(services.values()) + after["self"] - before["self"]
    other = max(0.0, after["machine"] - before["machine"] - ours)
    throttled = [
        (a["throttled_periods"] - b["throttled_periods"]) / max(1.0, a["periods"] - b["periods"])
        for a, b in zip(after["groups"], before["groups"], strict=True)
    ]
    return (
        [c / wall for c in hosts],
        throttled,
        {k: v / wall for k, v in services.items()},
        other / wall,
    )


def numbers(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=800)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--latencies", type=lambda s: [int(v) for v in s.split(",")], default=[0, 150]
    )
    parser.add_argument("--hosts", type=lambda s: [int(v) for v in s.split(",")], default=[1, 2])
    parser.add_argument("--workers-per-host", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--cores", type=float, default=0.5, help="each host's CPU cap")
    parser.add_argument(
        "--weight", type=float, default=8.0, help="CPU weight of our groups (1 = ordinary)"
    )
    parser.add_argument("--requests-per-second", type=float, default=5000.0)
    parser.add_argument("--posters", type=int, default=4)
    parser.add_argument("--goals", default="0:1.8,150:1.9", help="latency:ratio wanted")
    parser.add_argument("--out", type=Path, default=REPORT)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if (found := layout()) not in ("v1", "v2"):
        print(f"scaleout: {found}", file=sys.stderr)
        return 2
    bench = ScaleOut(args)
    began = datetime.now(UTC)
    status = 0
    try:
        bench.start()
        bench.run_all()
    except KeyboardInterrupt:
        status = 130
    except Exception as exc:  # the runs so far are still reported
        print(f"scaleout failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        bench.failure = f"{type(exc).__name__}: {exc}"
        status = 2
    finally:
        bench.stop()
    report = scaleout_report.render(bench, began, sys.argv[1:] if argv is None else argv)
    args.out.write_text(report, encoding="utf-8")
    print(f"report: {args.out}; logs: {bench.tmp}")
    verdicts = scaleout_report.verdicts(bench.runs, args)
    return status or (0 if verdicts and all(v.passed for v in verdicts) else 1)


if __name__ == "__main__":
    sys.exit(main())
