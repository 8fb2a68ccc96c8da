"""One chaos run from start to verdict: processes up, orders in under faults, kills and a Redis
restart (or, on a Sentinel group, master kills and replicas stopped), wait until every job is
final, then count what the ERP holds.

`bench.chaos` and `bench.chaos_ha` (the entry points) call `run_once` per run; the processes are
`bench.chaos_cluster` (`bench.chaos_sentinel` for a Sentinel group), the faults
`bench.chaos_faults` (`bench.chaos_failover` for the group's), the orders `bench.chaos_orders`,
the counting `bench.chaos_count`.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from rich.console import Console

from bench.chaos_cluster import SHOP_TOKEN, Cluster, RedisRestart, WorkerKiller
from bench.chaos_count import FINAL, Counts, count_run
from bench.chaos_failover import Failover, HaChaos, ReplicasAway, recoveries
from bench.chaos_faults import WRITES, FaultDriver, FaultRate, applied
from bench.chaos_orders import Posted, make_orders, post_paced
from bench.chaos_sentinel import SentinelBackend
from bench.measure import count_log_events
from bench.traffic import load_jobs
from core.store import Store

console = Console()
ROOT = Path(__file__).resolve().parent.parent
# Worker log lines worth counting (JSON logs): retries, sweeps, busy leases, errors, tracebacks.
# Not `bench.measure.LOG_EVENTS`: the chaos report's columns come in this order, and the bare
# `not_current` needle also counts the quoted forms.
LOG_EVENTS = {
    "step.retry": '"step.retry"',
    "sweep.submitted": '"sweep.submitted"',
    "step.busy": '"step.busy"',
    "dlq.added": '"dlq.added"',
    "not_current": "not_current",
    "step.unconfirmed": '"step.unconfirmed"',
    "errors": '"level": "error"',
    "tracebacks": "Traceback (most recent call last)",
}


@dataclass
class RunReport:
    run: int
    tmp: Path
    scenario: str = "chaos"
    counts: Counts | None = None
    posted: Posted | None = None
    post_seconds: float = 0.0
    drain_seconds: float | None = None
    kills: int = 0
    restart: RedisRestart | None = None
    erp_calls: int = 0
    erp_writes: int = 0
    faults_applied: dict[str, int] = field(default_factory=dict)
    faults_armed: dict[str, int] = field(default_factory=dict)
    bursts: int = 0
    events: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what a disturbance did, for the report
    failovers: list[Failover] = field(default_factory=list)
    away: ReplicasAway | None = None
    error: str = ""
    wall_seconds: float = 0.0
    # the machine's 1-minute load average when the posting ended and when counting began
    # (the machine is shared: a busy one stretches every time in the report)
    load: list[float] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            not self.error
            and self.counts is not None
            and self.counts.passed
            and all(f.promoted and not f.error for f in self.failovers)
            and (self.away is None or self.away.passed)
        )


def fault_rates(args: argparse.Namespace) -> list[FaultRate]:
    return [
        FaultRate("status", args.rate_503, None, 503),
        FaultRate("commit_then_status", args.rate_commit_500, WRITES, 500),
        FaultRate("commit_then_drop", args.rate_commit_drop, WRITES),
    ]


def sim_options(args: argparse.Namespace) -> dict[str, object]:
    """The simulator's own rate limit off (429s come as bursts); reference and article-code
    uniqueness off unless asked, so that a twin would show instead of being refused by Go."""
    return {
        "rate_limit_per_second": 0,
        "order_ref_unique": args.erp_unique,
        "product_code_unique": args.erp_unique,
    }


# Violence of another kind during the posting (e.g. a broker node killed): called as the
# posting starts with the cluster, the run's report and when the posting started (monotonic);
# the thread it returns is joined once the posting is over.
Disturbance = Callable[[Cluster, "RunReport", float], threading.Thread | None]


def run_once(
    args: argparse.Namespace,
    run: int,
    base: Path,
    broker: dict[str, str] | None = None,
    disturb: Disturbance | None = None,
) -> RunReport:
    """One run; `broker` names a broker other than the run's Redis (see `config_toml`)."""
    tmp = base / f"run{run}"
    tmp.mkdir(parents=True, exist_ok=True)
    report = RunReport(run, tmp, scenario=getattr(args, "scenario", "chaos"))
    t0 = time.monotonic()
    backend = _sentinel_backend(args, tmp)
    cluster = Cluster(args, tmp, broker, backend)
    killer = WorkerKiller(cluster, args.kill_every)
    driver: FaultDriver | None = None
    ha: HaChaos | None = None
    try:
        console.print(
            f"run {run} ({report.scenario}): starting "
            f"{'a Sentinel group' if backend else f'Redis (AOF {args.appendfsync})'}, "
            f"simulator, {args.workers} workers, intake (logs in {tmp})"
        )
        cluster.start(sim_options(args))
        assert cluster.sim is not None
        batch = make_orders(
            f"r{run}",
            args.orders,
            args.customers,
            args.articles,
            args.invalid_share,
            seed=args.seed + run,
        )
        driver = FaultDriver(
            cluster.sim,
            fault_rates(args),
            burst_every=args.burst_every,
            burst_seconds=args.burst_seconds,
        )
        driver.start()
        if args.kill_every > 0:
            killer.start()
        restart_at = time.monotonic() + 0.5 * args.orders / args.rate
        restarter = _restart_later(cluster, args.redis_restart, restart_at, report)
        disturber = disturb(cluster, report, time.monotonic()) if disturb else None
        start = time.time()
        if backend is not None:
            ha = _ha_chaos(args, backend, cluster.sim_url, start + 0.2)  # post_paced's start
            report.failovers, report.away = ha.failovers, ha.away
            ha.begin()
        posted = post_paced(cluster.intake_url, SHOP_TOKEN, batch.orders, args.rate, args.posters)
        report.posted, report.post_seconds = posted, time.time() - start
        report.load.append(os.getloadavg()[0])
        console.print(
            f"run {run}: {len(posted.accepted)} accepted, {len(posted.refused)} "
            f"refused, {posted.failed_attempts} POSTs sent again; waiting ..."
        )
        if restarter is not None:
            restarter.join(timeout=120)
        if disturber is not None:
            disturber.join(timeout=300)
        store = cluster.store()
        # The drain timeout counts from the last order's answer, not from here.
        left = args.drain_timeout - max(0.0, time.time() - posted.last_answer)
        jobs, all_final_at = _wait_final(store, posted.accepted, left)
        if ha is not None:  # old masters back as replicas (they come back while jobs drain)
            ha.join(timeout=120)
        killer.stop()
        report.kills = len(killer.kills)
        report.faults_applied = applied(cluster.sim)
        driver.stop()
        report.faults_armed, report.bursts = dict(driver.armed), driver.bursts
        finished = [
            datetime.fromisoformat(j["finished_at"]).timestamp()
            for j in jobs.values()
            if j.get("finished_at")
        ]
        if all_final_at is not None:
            end = max(finished) if finished else all_final_at
            report.drain_seconds = max(0.0, end - posted.last_answer)
        recoveries(report.failovers, posted.accepted_at, finished)
        for f in report.failovers:
            console.print(f"  {_failover_line(f)}")
        if report.away is not None:
            console.print(f"  {_away_line(report.away)}")
        report.load.append(os.getloadavg()[0])
        # Late messages (redelivered or swept) still run: let them, then count.
        time.sleep(args.settle)
        jobs = _load_jobs(store, posted.accepted)
        state = cluster.sim.get("/_sim/state").json()
        letters, _ = store.dead_letters(0, 100_000)
        dead = [json.loads(letter.model_dump_json()) for letter in letters]
        calls = cluster.sim.get("/_sim/calls").json()
        report.erp_calls = int(calls["total"])
        report.erp_writes = sum(int(calls["by_endpoint"].get(w, 0)) for w in WRITES)
        report.counts = count_run(posted.accepted, batch.invalid, state, dead, jobs)
        report.events = count_log_events(dict.fromkeys(cluster.worker_logs(), 0), LOG_EVENTS)
        (tmp / "dead_letters.json").write_text(json.dumps(dead, indent=1, default=str))
        (tmp / "sim_state.json").write_text(json.dumps(state, default=str))
    except Exception as exc:  # noted in the report; the next run still runs
        report.error = f"{type(exc).__name__}: {exc}"
        console.print(f"[red]run {run} failed: {report.error}[/red]")
    finally:
        killer.stop()
        if ha is not None:
            ha.stop()
        if driver is not None:
            driver._stop.set()
        report.kills = len(killer.kills)
        cluster.stop()
        report.wall_seconds = time.monotonic() - t0
    return report


def _sentinel_backend(args: argparse.Namespace, tmp: Path) -> SentinelBackend | None:
    """The run's store on a Sentinel group (`bench.chaos_ha`'s options), or None."""
    if not getattr(args, "sentinel", False):
        return None
    return SentinelBackend(
        tmp,
        replicas=args.replicas,
        down_after_ms=args.down_after_ms,
        min_replicas=args.min_replicas,
        replica_timeout_ms=args.replica_timeout_ms,
    )


def _ha_chaos(
    args: argparse.Namespace, backend: SentinelBackend, sim_url: str, start: float
) -> HaChaos:
    away = None
    if args.replicas_away_at is not None:
        away = ReplicasAway(
            args.replicas_away_at, args.replicas_away_seconds, args.replicas_away_grace
        )
    return HaChaos(
        backend.started,
        sim_url,
        start,
        args.rate,
        failovers=[Failover(at_order) for at_order in args.master_kills_at],
        away=away,
    )


def _failover_line(f: Failover) -> str:
    def s(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} s"

    return (
        f"master {f.killed} killed at order ~{f.at_order}: {f.promoted or 'nobody'} promoted "
        f"after {s(f.agreed_after)}, intake accepting after {s(f.intake_after)}, a job "
        f"finished after {s(f.worker_after)}, old master a replica again after "
        f"{s(f.rejoined_after)}{f' ERROR {f.error}' if f.error else ''}"
    )


def _away_line(a: ReplicasAway) -> str:
    return (
        f"replicas {', '.join(a.paused)} stopped {a.resumed_at - a.at:.1f} s at order "
        f"~{a.at_order}: ERP writes {a.writes_in_grace} in the first {a.grace:g} s, "
        f"{a.writes_while_away} after{f' ERROR {a.error}' if a.error else ''}"
    )


def _restart_later(
    cluster: Cluster, how: str, at: float, report: RunReport
) -> threading.Thread | None:
    if how == "none":
        return None

    def restart() -> None:
        time.sleep(max(0.0, at - time.monotonic()))
        report.restart = cluster.restart_redis(how)
        console.print(f"  Redis restarted ({how}), down {report.restart.down_seconds:.2f} s")

    thread = threading.Thread(target=restart, name="chaos-redis", daemon=True)
    thread.start()
    return thread


def _load_jobs(store: Store, accepted: dict[str, str]) -> dict[str, dict[str, Any]]:
    """job id -> stored job (`{"state": "missing"}` for an unknown id), read 200 at a time."""
    ids = list(accepted.values())
    jobs: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 200):
        chunk = ids[start : start + 200]
        jobs.update(zip(chunk, load_jobs(store.redis, chunk), strict=True))
    return jobs


def _wait_final(
    store: Store, accepted: dict[str, str], timeout: float
) -> tuple[dict[str, dict[str, Any]], float | None]:
    """Poll the jobs until all are final; returns them and the wall time that was seen (None
    when the timeout came first)."""
    deadline = time.monotonic() + timeout
    jobs: dict[str, dict[str, Any]] = {}
    while True:
        try:
            jobs = _load_jobs(store, accepted)
        except redis.exceptions.RedisError:
            if time.monotonic() > deadline:
                return jobs, None
            time.sleep(0.5)
            continue
        if all(job.get("state") in FINAL for job in jobs.values()):
            return jobs, time.time()
        if time.monotonic() > deadline:
            console.print("[red]  drain timeout: not every job is final[/red]")
            return jobs, None
        time.sleep(0.5)
