"""The failover parts of a chaos report: what the store was, each master kill and how long each
kind of client took to work again, and the ERP writes while the replicas were away.

Medians over the kills of all runs, since the machine is shared and single figures are noisy.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterable

from bench.chaos_run import RunReport


def store_line(args: argparse.Namespace) -> str:
    """The report's bullet on where the store and the broker were."""
    if getattr(args, "sentinel", False):
        return (
            f"- Store and broker on a Sentinel group of the run's own: 1 master, "
            f"{args.replicas} replicas and 3 Sentinels (redis-server processes on free ports, no "
            f"persistence; quorum 2, `down-after-milliseconds` {args.down_after_ms}), configured "
            "as `redis_url = 'sentinel://...;sentinel://...;sentinel://.../0'` with "
            f"`redis_master_name` (the broker is the store); `redis_min_replicas = "
            f"{args.min_replicas}` (WAIT timeout {args.replica_timeout_ms} ms). Failover runs: "
            f"the master SIGKILLed at about order(s) "
            f"{', '.join(str(n) for n in args.master_kills_at) or 'none'}, the old master "
            "started again once the Sentinels named another (they make it that one's replica). "
            f"Replicas-away runs: no kill; at about order {args.away_at} every replica "
            f"SIGSTOPped for {args.away_seconds:g} s, then SIGCONTed. Every job must be final "
            f"within {args.drain_timeout:g} s of the last order's answer in a failover run, "
            f"{args.away_drain_timeout:g} s in a replicas-away run."
        )
    how = {
        "shutdown": "SHUTDOWN, which fsyncs the AOF, then started again on the same files",
        "kill": "SIGKILL, then started again on the same files",
    }.get(args.redis_restart, "not at all")
    return (
        f"- A private redis-server (`--appendonly yes --appendfsync {args.appendfsync}`) on a free "
        f"port; half-way through the posting it is restarted ({args.redis_restart}: {how})."
    )


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _median(values: Iterable[float | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{statistics.median(known):.1f}" if known else "-"


def ha_sections(runs: list[RunReport]) -> list[str]:
    out: list[str] = []
    kills = [(r.run, f) for r in runs for f in r.failovers]
    if kills:
        out += [
            "",
            "## Failovers",
            "",
            "Seconds after each SIGKILL of the master until: every live Sentinel named the new "
            "master; the intake accepted an order again (the answer to the first POST sent after "
            "the kill that was accepted); a job finished after the Sentinels agreed (the workers "
            "write to the new master); the old master, started again, replicated the new one in "
            "sync. Replicas in sync: the master's replicas online when it was killed. A server is "
            "started again as it was first started: the first master empty and calling itself "
            "master until the Sentinels make it a replica (their own pace, about 15 s); a "
            "former replica with its first `replicaof`, which the Sentinels correct when it names "
            "another server than the master.",
            "",
            "| run | order | killed | replicas in sync | promoted | Sentinels agreed s | "
            "intake accepting s | a job finished s | old master a replica s | error |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for run, f in kills:
            out.append(
                f"| {run} | ~{f.at_order} | {f.killed} | {f.replicas_in_sync} | "
                f"{f.promoted or '-'} | {_s(f.agreed_after)} | {_s(f.intake_after)} | "
                f"{_s(f.worker_after)} | {_s(f.rejoined_after)} | {f.error} |"
            )
        failovers = [f for _, f in kills]
        out += [
            f"| median | | | | | {_median(f.agreed_after for f in failovers)} | "
            f"{_median(f.intake_after for f in failovers)} | "
            f"{_median(f.worker_after for f in failovers)} | "
            f"{_median(f.rejoined_after for f in failovers)} | |",
        ]
    aways = [(r.run, r.away) for r in runs if r.away is not None]
    if aways:
        out += [
            "",
            "## Replicas away",
            "",
            "ERP writes (POST /Customers, /Products, /SalesOrders/Complete, PATCH /Customers) "
            "counted from the simulator every 0.5 s while every replica was SIGSTOPped: those in "
            "the first seconds (the grace) come from steps whose marks a replica confirmed before "
            "the stop; after it there must be none.",
            "",
            "| run | order | stopped | stopped s | writes in the grace | grace s | "
            "writes after it | writes per second while stopped | verdict |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for run, a in aways:
            assert a is not None
            out.append(
                f"| {run} | ~{a.at_order} | {', '.join(a.paused)} | "
                f"{a.resumed_at - a.at:.1f} | {a.writes_in_grace} | {a.grace:g} | "
                f"{a.writes_while_away} | {_per_second(a.writes)} | "
                f"{'PASS' if a.passed else 'FAIL'} |"
            )
    return out


def _per_second(samples: list[tuple[float, int]]) -> str:
    """Writes in each whole second after the stop, e.g. `3 1 0 0 ...`."""
    if not samples:
        return "-"
    seconds = int(samples[-1][0]) + 1
    totals = [0] * seconds
    for second in range(seconds):
        at_end = [n for t, n in samples if t <= second + 1]
        at_start = [n for t, n in samples if t <= second]
        totals[second] = (at_end[-1] if at_end else 0) - (at_start[-1] if at_start else 0)
    return " ".join(str(n) for n in totals)


def ha_problems(runs: list[RunReport]) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    for r in runs:
        for f in r.failovers:
            if f.error or not f.promoted:
                problems.append((r.run, f"master kill at order ~{f.at_order}: {f.error}"))
        if r.away is not None and not r.away.passed:
            problems.append(
                (
                    r.run,
                    f"replicas away: {r.away.writes_while_away} ERP writes after the grace"
                    f"{f' ({r.away.error})' if r.away.error else ''}",
                )
            )
    return problems
