"""What the pipeline benchmark tells: medians, the targets' verdicts, the tables printed on the
terminal and the markdown report (`bench/reports/pipeline.md`).

Kept apart from the harness and the scenarios so that the report's format can change without
touching what is run or measured; it only reads `Bench.results` and the run's settings.
"""

from __future__ import annotations

import os
import statistics
from datetime import datetime
from typing import Any

from rich.table import Table

from bench.harness import REDIS_URL, Bench, console
from bench.measure import RunResult, machine
from bench.scenarios import BARE, FAST, RETURNING, names, pipeline_name

# Targets from the issue.
TARGET_VS_BARE = 0.5        # pipeline 0 ms >= 50 % of the bare chain's rate
TARGET_LATENCY_KEEP = 0.8   # pipeline 150 ms >= 80 % of the pipeline's own 0 ms rate
TARGET_CALLS_RETURNING = 1.1  # returning customer, known products: <= 1.1 ERP calls per order


def median_of(results: list[RunResult], scenario: str, attr: str) -> float | None:
    values = [getattr(r, attr) for r in results if r.scenario == scenario and r.ok]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def median_run(results: list[RunResult], scenario: str) -> RunResult | None:
    runs = sorted((r for r in results if r.scenario == scenario), key=lambda r: r.rate)
    return runs[len(runs) // 2] if runs else None


def summarize(bench: Bench) -> dict[str, Any]:
    """Medians per scenario, the targets (label, value, wanted, passed) and, for reading only,
    the same ratios up to 99 % completion."""
    results, latency = bench.results, bench.args.latency_ms
    slow = pipeline_name(latency)
    scenario_names = names(latency)
    medians = {n: {attr: median_of(results, n, attr)
                   for attr in ("rate", "rate_p99", "calls_per_order", "seconds", "post_seconds",
                                "p50", "p99")} for n in scenario_names}

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    vs_bare = ratio(medians[FAST]["rate"], medians[BARE]["rate"])
    keep = ratio(medians[slow]["rate"], medians[FAST]["rate"])
    calls_ret = medians[RETURNING]["calls_per_order"]
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
         ratio(medians[FAST]["rate_p99"], medians[BARE]["rate_p99"])),
        (f"pipeline {latency} ms / pipeline 0 ms, to 99 %",
         ratio(medians[slow]["rate_p99"], medians[FAST]["rate_p99"])),
    ]
    return {"names": scenario_names, "medians": medians, "checks": checks, "steady": steady}


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
    m = machine(REDIS_URL)
    out = ["# orderbridge pipeline benchmark", "",
           (f"Run {started.strftime('%Y-%m-%d %H:%M UTC')} with `python -m bench.pipeline "
            f"--orders {a.orders} --runs {a.runs} --workers {a.workers} --concurrency "
            f"{a.concurrency}` (wall time {wall / 60:.1f} min). Medians over {a.runs} run(s)."),
           "", "## Targets", "", "| target | value | wanted | verdict |", "|---|---|---|---|"]
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
            ("| scenario | orders/s (all final) | orders/s (to 99 %) | seconds | p50 s | p99 s | "
             "POST phase s | ERP calls/order |"), "|---|---|---|---|---|---|---|---|"]
    for name in summary["names"]:
        med = summary["medians"][name]
        out.append(f"| {name} | {fmt(med['rate'])} | {fmt(med['rate_p99'])} | "
                   f"{fmt(med['seconds'], 2)} | {fmt(med['p50'], 1)} | {fmt(med['p99'], 1)} | "
                   f"{fmt(med['post_seconds'], 2)} | {fmt(med['calls_per_order'], 2)} |")
    out += ["", ("For the bare chain, \"orders\" are chains of 5 tasks and the POST phase is the "
                 "time to send them. p50/p99: seconds from the first POST until 50 %/99 % of "
                 "the jobs were final."), "", "## ERP calls by endpoint (per order, median run)",
            ""]
    for name in summary["names"][1:]:
        mid = median_run([r for r in bench.results if r.ok], name)
        if mid is None:
            continue
        per = ", ".join(f"`{k}` {v / mid.orders:.2f}" for k, v in sorted(mid.by_endpoint.items()))
        out.append(f"- {name}: {per}")
    out += ["", "## CPU seconds per process (median run of each scenario)", "",
            ("utime+stime of each process during the run; the machine has "
             f"{m['nproc']} cores, so {m['nproc']} x wall seconds is all there is."), ""]
    procs = sorted({k for r in bench.results for k in r.cpu})
    out.append("| scenario | wall s | " + " | ".join(procs) + " |")
    out.append("|---|---|" + "---|" * len(procs))
    for name in summary["names"]:
        mid = median_run(bench.results, name)
        if mid is None:
            continue
        out.append(f"| {name} | {mid.seconds:.1f} | "
                   + " | ".join(f"{mid.cpu.get(p, 0):.1f}" for p in procs) + " |")
    out += _cpu_per_order(bench, summary)
    out += _raw_runs(bench)
    out += ["", "## Machine", ""]
    out += [f"- {k}: {v}" for k, v in m.items()]
    out += _settings(bench)
    return "\n".join(out)


def _cpu_per_order(bench: Bench, summary: dict[str, Any]) -> list[str]:
    worker_names = [c.name for c in bench.workers]
    per_order = []
    for name in summary["names"]:
        mid = median_run(bench.results, name)
        if mid is None:
            continue
        procs = [n for n in mid.cpu if n.startswith("bare-worker")] if name == BARE \
            else worker_names
        ms = 1000 * sum(mid.cpu.get(n, 0.0) for n in procs) / mid.orders
        per_order.append(f"{name} {ms:.0f} ms")
    return ["", "Worker CPU per order (per chain for the bare chain): " + ", ".join(per_order)
            + "."]


def _raw_runs(bench: Bench) -> list[str]:
    out = ["", "## Raw runs", "",
           ("| scenario | run | orders | seconds | orders/s | to 99 % /s | p50 s | p99 s | POST s "
            "| ERP calls | calls/order | states | retries | worker log | note |"),
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
    out += ["", ("\"worker log\" counts lines in the worker logs during the run: `step.busy` (a "
                 "step message found the job's lease taken and was dropped; the job then waits "
                 "for the sweeper), `sweep.enqueued` (the sweeper re-enqueued a job), "
                 "`not_current` (a stale message for a step already done), retries, dead "
                 "letters, errors.")]
    return out


def _settings(bench: Bench) -> list[str]:
    a = bench.args
    return [
        "", "## Settings", "",
        f"- Redis `{REDIS_URL}` (flushed at start), everything on 127.0.0.1.",
        (f"- Pipeline: {a.workers} `orderbridge worker` process(es), pool `threads`, "
         f"concurrency {a.concurrency}, log level {a.log_level} (JSON lines to a file); one "
         "intake (uvicorn, one process); PowerOffice simulator (uvicorn, one process) with "
         "its per-key rate limit disabled (`rate_limit_per_second = 0`)."),
        (f"- Worker timings: `stale_after_seconds = {a.stale_after:g}`, "
         f"`queued_stale_after_seconds = {a.queued_stale_after:g}`, "
         f"`sweep_interval_seconds = {a.sweep_interval:g}` (the defaults of "
         "`WorkerSettings` unless changed by flags)."),
        (f"- `requests_per_second = {a.requests_per_second:g}` on the connection, so "
         "orderbridge's own shared request budget (10/s by default for PowerOffice) does not "
         "throttle the measurement. With the default budget the pipeline could not exceed "
         "10 ERP calls/s, i.e. about 1.4 new-customer orders/s or 10 returning orders/s."),
        "- Code under test: " + ", ".join(f"{k} `{v}`" for k, v in bench.code.items())
        + " (worker settings at their defaults, as read when the run started).",
        ("- Orders: 3 product lines each, `send_invoice = false`, so 4 pipeline steps per "
         "order (upsert_customer, upsert_products, check_duplicate, create_draft); one Celery "
         "task each, or fewer where the worker runs following steps inline. New-customer "
         "scenarios use a distinct customer and 3 distinct SKUs per order (worst case); the "
         "returning-customer scenario posts one warm-up order first, then every order has the "
         "same customer and SKUs."),
        (f"- Orders are posted over HTTP by {a.posters} threads (one keep-alive client each); "
         "a run is timed from the first POST to the latest `finished_at` of its jobs "
         "(end to end, so it includes intake time, which overlaps with processing)."),
        (f"- Added latency for the slow scenario: {a.latency_ms} ms on every simulator call "
         "(`POST /_sim/latency`)."),
        (f"- Bare chain: `bench/bare_chain.py`, {a.workers} `celery worker -P threads -c "
         f"{a.concurrency}` process(es) on queue `bench-bare` of the same Redis database; acks "
         "late, prefetch 1, JSON, no result backend, no task events (the pipeline worker runs "
         "with `-E` and sent events); chains of 5 immutable `bench.noop` signatures, the fifth "
         f"counting finished chains; sent by {a.posters} threads; timed from the first send to "
         "the last chain's end."),
        ("- Between scenarios: queues drained, orderbridge keys removed (tokens and worker "
         "liveness kept), simulator reset. Before measuring, 20 chains and 20 orders warm up "
         "the processes. Scenarios are interleaved run by run."),
        (f"- Warm-up orders that stalled on the lease race (see `step.busy`) were re-enqueued "
         f"by the benchmark instead of waiting for the sweeper: {bench.nudges} time(s). "
         "Measured runs are never touched."),
        (f"- Before each scenario the benchmark waited up to {a.wait_for_quiet:g} s for other "
         "processes to use less than 0.2 core (`--wait-for-quiet`)."),
        ("- \"other processes\" CPU: the machine's busy time during the run minus our "
         "processes'; non-zero means something else (e.g. someone's test suite) shared the "
         "machine, and redis-server's figure then includes their use of it too. \"steal\": "
         "time the hypervisor gave this VM's cores to someone else."),
        f"- Process logs of this run: `{bench.tmp}`.", ""]
