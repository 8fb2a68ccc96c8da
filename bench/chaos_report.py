"""The chaos report (`bench/reports/chaos.md`): the settings, one row per run, the verdict.

Kept apart from the run so that what the report claims (PASS only when every run passed) is in
one short place.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from datetime import datetime
from pathlib import Path

from bench.chaos_ha_report import ha_problems, ha_sections, store_line
from bench.chaos_run import RunReport


def verdict(runs: list[RunReport]) -> str:
    passed = sum(1 for r in runs if r.passed)
    word = "PASS" if runs and passed == len(runs) else "FAIL"
    return f"{word} {passed}/{len(runs)}"


def _rate(part: int, whole: int) -> str:
    return f"{part} ({100 * part / whole:.1f} %)" if whole else str(part)


def markdown(
    args: argparse.Namespace,
    runs: list[RunReport],
    started: datetime,
    wall_seconds: float,
    command: str,
    base: str,
    title: str = "orderbridge chaos run",
) -> str:
    out = [
        f"# {title}",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC with `{command}` (wall time "
        f"{wall_seconds / 60:.1f} min). Logs, dead letters and the simulator's final state of "
        f"every run are in `{base}`.",
        "",
        f"## Verdict: {verdict(runs)}",
        "",
        "PASS means, in every run: no accepted order lost (no sales order and no dead letter), no "
        "reference on two sales orders, no customer or article twice in the ERP, every job final, "
        "and exactly the orders made invalid on purpose dead-lettered (none of them in the ERP).",
        "",
        "## What each run does",
        "",
        f"- {args.orders} canonical orders POSTed over HTTP to the intake, paced at "
        f"{args.rate:g}/s from {args.posters} threads, for {args.customers} customers and "
        f"{args.articles} articles (1-3 lines each, so upserts of one customer or article race); "
        f"{args.invalid_share:.0%} carry an article on VAT 11 %, mapped to account 3040, which "
        "Go refuses with 400 (expected dead letters). A POST that fails (5xx, connection "
        "refused while Redis restarts) is sent again, as a shop would.",
        f"- Into the PowerOffice Go simulator with faults armed once a second in proportion to "
        f"the calls just made: {args.rate_503:.0%} of all calls 503, "
        f"{args.rate_commit_500:.0%} of writes (POST /Customers, /Products, "
        f"/SalesOrders/Complete, PATCH /Customers) commit then 500, {args.rate_commit_drop:.0%} "
        f"of writes commit then drop the connection; every {args.burst_every:g} s a burst of "
        f"429s (Retry-After 1) on as many calls as the last {args.burst_seconds:g} s made (none "
        f"while under 10 calls/s). "
        f"The simulator's reference and "
        f"article-code uniqueness is {'on' if args.erp_unique else 'off'}, so a twin "
        f"{'would be refused by Go' if args.erp_unique else 'would be stored and counted'}.",
        f"- {args.workers} workers ({args.concurrency} threads each); every {args.kill_every:g} s "
        "one of them (in turn) is SIGKILLed with its process group and a new one started.",
        store_line(args),
        f"- Worker timings: stale_after {args.stale_after:g} s, queued_stale_after "
        f"{args.queued_stale_after:g} s, sweep every {args.sweep_interval:g} s, visibility "
        f"timeout {args.visibility_timeout} s; retries base {args.retry_base:g} s, cap "
        f"{args.retry_cap:g} s, window {args.retry_window:g} s; request budget "
        f"{args.requests_per_second:g}/s.",
        "- Counted at the end from the simulator's state (`/_sim/state`), the dead letters and "
        "the jobs in Redis, after every job was final and a further "
        f"{args.settle:g} s for late messages. Drain time: from the answer to the last POST until "
        "the last job finished.",
        "",
        "## Runs",
        "",
        "| run | scenario | orders in | sales orders | duplicates | lost | duplicate customers | "
        "duplicate articles | dead letters expected | unexpected | not final | drain s | "
        "verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        c = r.counts
        if c is None:
            out.append(f"| {r.run} | {r.scenario} | | | | | | | | | | | FAIL ({r.error}) |")
            continue
        drain = f"{r.drain_seconds:.1f}" if r.drain_seconds is not None else "timeout"
        out.append(
            f"| {r.run} | {r.scenario} | {c.orders_in} | {c.documents} | {len(c.duplicates)} | "
            f"{len(c.lost)} | "
            f"{len(c.duplicate_customers)} | {len(c.duplicate_products)} | "
            f"{c.dead_expected} of {c.invalid_in} | {len(c.dead_unexpected)} | "
            f"{len(c.not_final)} | {drain} | {'PASS' if r.passed else 'FAIL'} |"
        )
    out += [
        "",
        "A drain time near stale_after means a step was running on a worker killed late "
        "in the run: nothing acknowledges it, and the sweeper sends it again stale_after "
        "seconds after its last heartbeat.",
        "",
        "## The chaos each run got",
        "",
        "| run | ERP calls (writes) | 503 of calls | commit then 500 of writes | "
        "commit then drop of writes | 429 (bursts) | workers killed | Redis down s | "
        "POSTs sent again | posting s | job states | jobs retried | drafts recovered | "
        "run wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        f, calls, writes = r.faults_applied, r.erp_calls, r.erp_writes
        down = f"{r.restart.down_seconds:.2f}" if r.restart else "-"
        again = r.posted.failed_attempts if r.posted else 0
        c = r.counts
        states = ", ".join(f"{k}={v}" for k, v in (c.states if c else {}).items())
        out.append(
            f"| {r.run} | {calls} ({writes}) | {_rate(f.get('503', 0), calls)} | "
            f"{_rate(f.get('commit_then_500', 0), writes)} | "
            f"{_rate(f.get('commit_then_drop', 0), writes)} | "
            f"{f.get('rate_limit', 0)} ({r.bursts}) | {r.kills} | {down} | {again} | "
            f"{r.post_seconds:.1f} | {states} | {c.retried_jobs if c else ''} | "
            f"{c.recovered_drafts if c else ''} | {r.wall_seconds:.0f} |"
        )
    out += [
        "",
        "Writes are POST /Customers, POST /Products, POST /SalesOrders/Complete and "
        'PATCH /Customers/{id}; a 503 can land on a write too. "jobs retried": jobs with '
        'a step that needed more than one attempt; "drafts recovered": create_draft found, '
        "by looking before posting again, the sales order an earlier attempt had created "
        "(its answer lost to a commit fault or a killed worker).",
        "",
        "## Worker log lines per run",
        "",
        "| run | " + " | ".join(_event_names(runs)) + " |",
        "|---|" + "---|" * len(_event_names(runs)),
    ]
    for r in runs:
        out.append(
            f"| {r.run} | " + " | ".join(str(r.events.get(k, 0)) for k in _event_names(runs)) + " |"
        )
    out += [
        "",
        f"Machine load (1-minute load average on {os.cpu_count()} cores, shared with other "
        "work) when the posting ended and when the counting began: "
        + "; ".join(f"run {r.run}: {' / '.join(f'{x:.1f}' for x in r.load) or '-'}" for r in runs)
        + ".",
    ]
    out += ha_sections(runs)
    problems = [(r.run, line) for r in runs if r.counts for line in r.counts.problems()]
    problems += [(r.run, r.error) for r in runs if r.error]
    problems += ha_problems(runs)
    if problems:
        out += ["", "## Problems", ""] + [f"- run {run}: {line}" for run, line in problems]
    out += ["", "## Machine and code", ""] + [f"- {k}: {v}" for k, v in machine_info().items()]
    return "\n".join(out) + "\n"


def machine_info() -> dict[str, str]:
    """Cores, CPU, versions and the commit, without a Redis to ask (the runs' are gone)."""
    import platform
    import subprocess

    from bench.chaos_cluster import redis_binary
    from bench.chaos_run import ROOT
    from bench.measure import code_under_test

    model = ""
    with contextlib.suppress(OSError):
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    try:
        version = subprocess.run(
            [redis_binary(), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except OSError as exc:
        version = f"? ({exc})"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "redis-server": version,
        **code_under_test(ROOT),
    }


def _event_names(runs: list[RunReport]) -> list[str]:
    names: list[str] = []
    for r in runs:
        names += [k for k in r.events if k not in names]
    return names
