"""One chaos run from start to verdict: processes up, orders in under faults, kills and a Redis
restart, wait until every job is final, then count what the ERP holds.

`bench.chaos` (the entry point) calls `run_once` per run; the processes are `bench.chaos_cluster`,
the faults `bench.chaos_faults`, the orders `bench.chaos_orders`, the counting
`bench.chaos_count`.
"""

from __future__ import annotations

import argparse
import json
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
from bench.chaos_faults import WRITES, FaultDriver, FaultRate, applied
from bench.chaos_orders import Posted, make_orders, post_paced
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
    "errors": '"level": "error"',
    "tracebacks": "Traceback (most recent call last)",
}


@dataclass
class RunReport:
    run: int
    tmp: Path
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
    error: str = ""
    wall_seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.error and self.counts is not None and self.counts.passed


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
    report = RunReport(run, tmp)
    t0 = time.monotonic()
    cluster = Cluster(args, tmp, broker)
    killer = WorkerKiller(cluster, args.kill_every)
    driver: FaultDriver | None = None
    try:
        console.print(
            f"run {run}: starting Redis (AOF {args.appendfsync}), simulator, "
            f"{args.workers} workers, intake (logs in {tmp})"
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
        posted = post_paced(cluster.intake_url, SHOP_TOKEN, batch.orders, args.rate, args.posters)
        report.posted, report.post_seconds = posted, time.time() - start
        console.print(
            f"run {run}: {len(posted.accepted)} accepted, {len(posted.refused)} "
            f"refused, {posted.failed_attempts} POSTs sent again; waiting ..."
        )
        if restarter is not None:
            restarter.join(timeout=120)
        if disturber is not None:
            disturber.join(timeout=300)
        store = cluster.store()
        jobs, all_final_at = _wait_final(store, posted.accepted, args.drain_timeout)
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
        if driver is not None:
            driver._stop.set()
        report.kills = len(killer.kills)
        cluster.stop()
        report.wall_seconds = time.monotonic() - t0
    return report


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
