"""The scale-out benchmark's numbers: medians per latency and host count, the ratios against one
host, the goals, and the markdown report (`bench/reports/scaleout.md`)."""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bench.measure import code_under_test

if TYPE_CHECKING:
    from bench.scaleout import Run, ScaleOut

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Verdict:
    latency_ms: int
    one: float  # median orders/s of one host
    two: float  # ... of two hosts
    wanted: float

    @property
    def ratio(self) -> float:
        return self.two / self.one if self.one else 0.0

    @property
    def passed(self) -> bool:
        return self.ratio >= self.wanted


def line(r: Run) -> str:
    """One run, for the terminal and the report's list."""
    hosts = ", ".join(
        f"{c:.2f} core ({100 * t:.0f} % throttled)"
        for c, t in zip(r.host_cores, r.throttled, strict=True)
    )
    services = ", ".join(f"{k} {v:.2f}" for k, v in r.services_cores.items())
    flag = "" if r.ok else f" FAILED: {r.note}"
    return (
        f"{r.rate:6.1f} orders/s ({r.orders} in {r.seconds:.1f} s); hosts: {hosts}; "
        f"services: {services} core; others {r.other_cores:.2f} core; "
        f"load {r.load[0]:.1f}->{r.load[1]:.1f}{flag}"
    )


def median_rate(runs: list[Run], latency_ms: int, hosts: int) -> float | None:
    rates = [r.rate for r in runs if r.latency_ms == latency_ms and r.hosts == hosts and r.ok]
    return statistics.median(rates) if rates else None


def median_steady(runs: list[Run], latency_ms: int, hosts: int) -> float | None:
    rates = [
        r.steady_rate
        for r in runs
        if r.latency_ms == latency_ms and r.hosts == hosts and r.ok and r.steady_rate
    ]
    return statistics.median(rates) if rates else None


def binds(runs: list[Run], latency_ms: int, hosts: int) -> str:
    """What held these runs back: the hosts' cap when they were throttled in most periods,
    else the ERP's latency (the threads wait) when the hosts used well under their cap, else
    something outside the hosts."""
    chosen = [r for r in runs if r.latency_ms == latency_ms and r.hosts == hosts and r.ok]
    if not chosen:
        return "n/a"
    throttled = statistics.median(statistics.mean(r.throttled) for r in chosen)
    used = statistics.median(statistics.mean(r.host_cores) for r in chosen)
    if throttled >= 0.5:
        return f"the cap (throttled in {100 * throttled:.0f} % of periods)"
    if latency_ms > 0:
        return f"the ERP's latency (threads waiting; {used:.2f} core per host)"
    return f"outside the hosts ({used:.2f} core per host, throttled {100 * throttled:.0f} %)"


def goals(args: argparse.Namespace) -> dict[int, float]:
    return {int(k): float(v) for k, v in (g.split(":") for g in args.goals.split(","))}


def verdicts(runs: list[Run], args: argparse.Namespace) -> list[Verdict]:
    out = []
    for latency, wanted in goals(args).items():
        one, two = median_rate(runs, latency, 1), median_rate(runs, latency, 2)
        if one is not None and two is not None:
            out.append(Verdict(latency, one, two, wanted))
    return out


def render(bench: ScaleOut, began: datetime, argv: list[str]) -> str:
    args, runs = bench.args, bench.runs
    minutes = (datetime.now(UTC) - began).total_seconds() / 60
    code = code_under_test(ROOT)
    m = bench.machine
    caps = "; ".join(f"`{g.path.name}`: {g.cap}" for g in bench.groups)
    out = [
        "# Scale-out: worker hosts capped at half a core (issue 18)",
        "",
        f"Run {began:%Y-%m-%d %H:%M} UTC with `python -m bench.scaleout {' '.join(argv)}` "
        f"(wall time {minutes:.1f} min) on {m.get('nproc', '?')} cores ({m.get('cpu', '?')}), "
        f"code {code.get('commit', '?')}; redis-server {m.get('redis-server', '?')}, "
        f"celery {m.get('celery', '?')}, kombu {m.get('kombu', '?')}, "
        f"Python {m.get('python', '?')}.",
        "",
        *([f"**The benchmark stopped early: {bench.failure}**", ""] if bench.failure else []),
        "## Goals",
        "",
        "| ERP latency | 1 host orders/s | 2 hosts orders/s | ratio | wanted | verdict | "
        "steady ratio | 2-host runs bound by |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for v in verdicts(runs, args):
        one = median_steady(runs, v.latency_ms, 1)
        two = median_steady(runs, v.latency_ms, 2)
        steady = f"{two / one:.2f}" if one and two else "n/a"
        out.append(
            f"| {v.latency_ms} ms | {v.one:.1f} | {v.two:.1f} | {v.ratio:.2f} | "
            f">= {v.wanted} | {'PASS' if v.passed else 'FAIL'} | {steady} | "
            f"{binds(runs, v.latency_ms, 2)} |"
        )
    out += [
        "",
        f"Medians of {args.runs} run(s) of {args.orders} new-customer orders each (every order a "
        "new customer with 3 new products: 7 ERP calls). orders/s: orders divided by the seconds "
        "from the moment the hosts' workers were thawed (the orders already accepted by the "
        "intake and waiting in admission) to the last job's `finished_at`.",
        "",
        "## Set-up",
        "",
        f"- Hosts: cgroup {bench.groups[1].version if len(bench.groups) > 1 else '?'} groups "
        f"of our own ({caps}); each host runs {args.workers_per_host} `orderbridge worker` "
        f"process(es), thread pool, concurrency {args.concurrency}, started fresh for each run.",
        f"- Every group of ours has {args.weight:g} x an ordinary process's CPU weight (cpu.shares "
        "/ cpu.weight), so that other people's processes on this shared machine do not take the "
        "half core a host is capped at; the cap itself is the kernel's quota.",
        "- Outside the caps (the services group, uncapped): a private redis-server on a free "
        "port (append-only file, no fsync), the PowerOffice simulator (rate limit off, the "
        "latency added to every call) and the intake.",
        f"- The connection's ERP budget: `requests_per_second = {args.requests_per_second:g}` "
        "(admission's in-flight cap follows from it: far above the hosts' threads); the load "
        "peaks at the calls/s in the table below.",
        "",
        "## Every run",
        "",
        "| latency | hosts | run | orders/s | steady orders/s | seconds | ERP calls/s | cores per "
        "host (throttled) | redis / simulator / intake cores | other processes cores | "
        "load 1 min | ok |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        hosts = ", ".join(
            f"{c:.2f} ({100 * t:.0f} %)" for c, t in zip(r.host_cores, r.throttled, strict=True)
        )
        services = " / ".join(f"{v:.2f}" for v in r.services_cores.values())
        steady = "n/a" if r.steady_rate is None else f"{r.steady_rate:.1f}"
        out.append(
            f"| {r.latency_ms} ms | {r.hosts} | {r.run} | {r.rate:.1f} | {steady} | "
            f"{r.seconds:.1f} | {r.erp_calls / r.seconds if r.seconds else 0:.0f} | {hosts} | "
            f"{services} | "
            f"{r.other_cores:.2f} | {r.load[0]:.1f} -> {r.load[1]:.1f} | "
            f"{'yes' if r.ok else r.note} |"
        )
    out += [
        "",
        "steady orders/s: between the 10th and the 90th percentile of the finish times (without "
        "the workers waking up and the last orders' own duration), for reading; the goals use "
        "orders/s of the whole batch. "
        "cores per host: the CPU its workers used over the run, in cores (the cap is "
        f"{args.cores:g}); throttled: the share of the host's scheduler periods in which it "
        "used up its quota (kernel `cpu.stat`). other processes: everything on the machine "
        "that is not ours (other people's tests), in cores; load: the 1-minute load average "
        "at the thaw and at the end. ok: every job done and every order in the simulator "
        "exactly once.",
        "",
    ]
    return "\n".join(out) + "\n"
