"""What the pipeline benchmark tells: medians, the goals' verdicts, what binds, the tables
printed on the terminal and the markdown report (`bench/reports/pipeline.md`).

Kept apart from the harness and the scenarios so that the report's format can change without
touching what is run or measured; it only reads `Bench.results`, `Bench.loads`, `Bench.rss` and
the run's settings.
"""

from __future__ import annotations

import os
import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.harness import REDIS_URL, Bench, console
from bench.measure import RunResult, machine
from bench.openloop import LoadResult
from bench.scenarios import (
    BARE,
    LOAD_TARGETS,
    NEW,
    ORDERBRIDGE,
    RETURNING,
    SYSTEMS,
    USER_CHAIN,
    names,
    scenario_name,
)

# Goals from issue 11.
GOAL_RETURNING_VS_USER = 1.5  # returning customers, 0 ms: >= 1.5 x the user's chain rate
GOAL_NEW_VS_USER = 1.0  # new customers, 0 ms: >= the user's chain rate
GOAL_P99_VS_BARE = 2.0  # intake p99 at 200 requests/s <= 2 x the bare endpoint's
GOAL_SATURATION = 0.8  # intake rate achieved at the top load >= 0.8 x the bare endpoint's
GOAL_P99_LOAD = 200.0
# Earlier targets, kept for reading.
TARGET_VS_BARE = 0.5
TARGET_LATENCY_KEEP = 0.8
TARGET_CALLS_RETURNING = 1.1
# A load "holds" while its p99 stays under this (for the saturation column, for reading).
HOLD_P99_SECONDS = 0.5

ATTRS = (
    "rate",
    "rate_p99",
    "calls_per_order",
    "seconds",
    "post_seconds",
    "p50",
    "p99",
    "draft_p50",
    "draft_p99",
    "cpu_per_order_ms",
)


def median_of(results: list[RunResult], scenario: str, attr: str) -> float | None:
    values = [getattr(r, attr) for r in results if r.scenario == scenario and r.ok]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def median_run(results: list[RunResult], scenario: str) -> RunResult | None:
    runs = sorted((r for r in results if r.scenario == scenario), key=lambda r: r.rate)
    return runs[len(runs) // 2] if runs else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def load_of(loads: list[LoadResult], target: str, rate: float) -> LoadResult | None:
    return next((r for r in loads if r.target == target and r.rate == rate), None)


def summarize(bench: Bench) -> dict[str, Any]:
    """Medians per scenario, the goals and earlier targets (label, value, wanted, passed)."""
    results, latency = bench.results, bench.args.latency_ms
    scenario_names = names(latency)
    medians = {n: {attr: median_of(results, n, attr) for attr in ATTRS} for n in scenario_names}

    def med(system: str, kind: str, ms: int, attr: str) -> float | None:
        return medians[scenario_name(system, kind, ms)][attr]

    ret = _ratio(med(ORDERBRIDGE, RETURNING, 0, "rate"), med(USER_CHAIN, RETURNING, 0, "rate"))
    new = _ratio(med(ORDERBRIDGE, NEW, 0, "rate"), med(USER_CHAIN, NEW, 0, "rate"))
    calls = {
        kind: (
            med(ORDERBRIDGE, kind, 0, "calls_per_order"),
            med(USER_CHAIN, kind, 0, "calls_per_order"),
        )
        for kind in (NEW, RETURNING)
    }

    def fewer(kind: str) -> tuple[str, float | None, str, bool]:
        ours, theirs = calls[kind]
        return (
            f"{kind} customers, 0 ms: ERP calls per order, ours (theirs {fmt(theirs, 2)})",
            ours,
            "< the user's chain",
            ours is not None and theirs is not None and ours < theirs,
        )

    bare200 = load_of(bench.loads, LOAD_TARGETS[0], GOAL_P99_LOAD)
    ours200 = load_of(bench.loads, ORDERBRIDGE, GOAL_P99_LOAD)
    p99_ratio = _ratio(ours200.p99 if ours200 else None, bare200.p99 if bare200 else None)
    top = max(bench.args.loads) if bench.args.loads else None
    bare_top = load_of(bench.loads, LOAD_TARGETS[0], top) if top else None
    ours_top = load_of(bench.loads, ORDERBRIDGE, top) if top else None
    saturation = _ratio(
        ours_top.achieved if ours_top else None, bare_top.achieved if bare_top else None
    )
    goals = [
        (
            "returning customers, 0 ms: orderbridge / user's chain (orders/s)",
            ret,
            f">= {GOAL_RETURNING_VS_USER:.2f}",
            ret is not None and ret >= GOAL_RETURNING_VS_USER,
        ),
        (
            "new customers, 0 ms: orderbridge / user's chain (orders/s)",
            new,
            f">= {GOAL_NEW_VS_USER:.2f}",
            new is not None and new >= GOAL_NEW_VS_USER,
        ),
        fewer(NEW),
        fewer(RETURNING),
        (
            f"intake p99 at {GOAL_P99_LOAD:.0f} requests/s: orderbridge / bare endpoint",
            p99_ratio,
            f"<= {GOAL_P99_VS_BARE:.2f}",
            p99_ratio is not None and p99_ratio <= GOAL_P99_VS_BARE,
        ),
        (
            f"intake saturation (rate achieved at {fmt(top, 0)} requests/s offered): "
            "orderbridge / bare endpoint",
            saturation,
            f">= {GOAL_SATURATION:.2f}",
            saturation is not None and saturation >= GOAL_SATURATION,
        ),
    ]
    vs_bare = _ratio(med(ORDERBRIDGE, NEW, 0, "rate"), medians[BARE]["rate"])
    keep = _ratio(med(ORDERBRIDGE, NEW, latency, "rate"), med(ORDERBRIDGE, NEW, 0, "rate"))
    calls_ret = med(ORDERBRIDGE, RETURNING, 0, "calls_per_order")
    earlier = [
        (
            "orderbridge new 0 ms / bare chain (orders/s)",
            vs_bare,
            f">= {TARGET_VS_BARE:.2f}",
            vs_bare is not None and vs_bare >= TARGET_VS_BARE,
        ),
        (
            f"orderbridge new {latency} ms / new 0 ms (orders/s)",
            keep,
            f">= {TARGET_LATENCY_KEEP:.2f}",
            keep is not None and keep >= TARGET_LATENCY_KEEP,
        ),
        (
            "orderbridge returning: ERP calls per order",
            calls_ret,
            f"<= {TARGET_CALLS_RETURNING:.2f}",
            calls_ret is not None and calls_ret <= TARGET_CALLS_RETURNING,
        ),
    ]
    return {"names": scenario_names, "medians": medians, "checks": goals, "earlier": earlier}


def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{1000 * value:.0f}"


def events_text(events: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in events.items() if v) or "-"


# --- what binds -----------------------------------------------------------------------------------
def binding(r: RunResult, cores: int) -> str:
    """Which limit the run met, from CPU seconds per process over its wall time: one of our
    Python processes near one core is bound by its own CPU (the interpreter lock allows one
    core per process); the machine near all its cores (other people's processes included) is
    full; otherwise the run waits: on the ERP's answers one at a time (the script), or threads
    x ERP latency."""
    if not r.seconds:
        return "n/a"
    busy = {p: c / r.seconds for p, c in r.cpu.items() if p != "steal (hypervisor)"}
    total = sum(busy.values())
    ours = {p: v for p, v in busy.items() if p != "other processes"}
    top, top_cores = max(ours.items(), key=lambda item: item[1])
    if top_cores >= 0.85:
        verdict = f"CPU of {top}"
    elif total >= 0.85 * cores:
        verdict = "the machine's CPU"
    elif r.system == "script":
        verdict = "one order at a time (each call waits for the ERP)"
    else:
        verdict = "waiting (threads x ERP latency)" if r.latency_ms else "nothing saturated"
    other = busy.get("other processes", 0.0)
    return (
        f"{verdict} ({top} {top_cores:.2f} core, machine {total:.2f}/{cores} cores"
        + (f", of which other processes {other:.2f}" if other >= 0.1 else "")
        + ")"
    )


# --- terminal ---------------------------------------------------------------------------------
def print_tables(bench: Bench, summary: dict[str, Any]) -> None:
    med = Table(
        "scenario",
        "orders/s",
        "to draft p50 s",
        "to draft p99 s",
        "ERP calls/order",
        "CPU ms/order",
        title=f"medians of {bench.args.runs} run(s)",
    )
    for name in summary["names"]:
        m = summary["medians"][name]
        if m["rate"] is None:
            continue
        med.add_row(
            name,
            fmt(m["rate"]),
            fmt(m["draft_p50"], 2),
            fmt(m["draft_p99"], 2),
            fmt(m["calls_per_order"], 2),
            fmt(m["cpu_per_order_ms"], 1),
        )
    console.print(med)
    if bench.loads:
        loads = Table(
            "offered/s",
            "target",
            "p50 ms",
            "p99 ms",
            "achieved/s",
            "errors",
            title="intake, open loop",
        )
        for r in bench.loads:
            loads.add_row(
                f"{r.rate:.0f}", r.target, ms(r.p50), ms(r.p99), f"{r.achieved:.0f}", str(r.errors)
            )
        console.print(loads)
    checks = Table("goal", "value", "wanted", "verdict", title="goals (issue 11)")
    for label, value, wanted, passed in summary["checks"]:
        checks.add_row(
            label, fmt(value, 3), wanted, "[green]PASS[/green]" if passed else "[red]FAIL[/red]"
        )
    for label, value, wanted, passed in summary["earlier"]:
        checks.add_row(
            f"[dim]{label}[/dim]",
            fmt(value, 3),
            f"[dim]{wanted}[/dim]",
            "[dim]pass[/dim]" if passed else "[dim]fail[/dim]",
        )
    console.print(checks)


# --- markdown ---------------------------------------------------------------------------------
def markdown(
    bench: Bench, summary: dict[str, Any], started: datetime, wall: float, chart: Path | None = None
) -> str:
    a = bench.args
    m = machine(REDIS_URL)
    cores = os.cpu_count() or 1
    loads = ",".join(f"{v:g}" for v in a.loads) or "none"
    out = [
        "# orderbridge pipeline benchmark",
        "",
        (
            f"Run {started.strftime('%Y-%m-%d %H:%M UTC')} with `python -m bench.pipeline "
            f"--orders {a.orders} --runs {a.runs} --workers {a.workers} --concurrency "
            f"{a.concurrency} --latency-ms {a.latency_ms} --loads {loads} --load-seconds "
            f"{a.load_seconds:g}{' --quick' if a.quick else ''}` (what `make bench` runs; wall "
            f"time {wall / 60:.1f} min) on {m['nproc']} cores ({m['cpu']}). Medians over "
            f"{a.runs} run(s)."
        ),
        "",
    ]
    if chart is not None:
        out += [f"![orders/s per scenario, intake p99 per load]({chart.name})", ""]
    out += ["## Goals (issue 11)", "", "| goal | value | wanted | verdict |", "|---|---|---|---|"]
    for label, value, wanted, passed in summary["checks"]:
        out.append(f"| {label} | {fmt(value, 3)} | {wanted} | {'PASS' if passed else 'FAIL'} |")
    out += [
        "",
        "Earlier targets, for reading:",
        "",
        "| target | value | wanted | verdict |",
        "|---|---|---|---|",
    ]
    for label, value, wanted, passed in summary["earlier"]:
        out.append(f"| {label} | {fmt(value, 3)} | {wanted} | {'pass' if passed else 'fail'} |")
    out += _disturbed(bench, cores)
    out += _throughput(bench, summary)
    out += _loads(bench)
    out += _binds(bench, summary, cores)
    out += _erp_calls(bench, summary)
    out += _cpu(bench, summary, m["nproc"])
    out += _memory(bench)
    out += _raw_runs(bench)
    out += ["", "## Machine", ""]
    out += [f"- {k}: {v}" for k, v in m.items()]
    out += _settings(bench)
    return "\n".join(out)


def _disturbed(bench: Bench, cores: int) -> list[str]:
    disturbed = []
    for r in bench.results:
        share = (
            (r.cpu.get("other processes", 0.0) + r.cpu.get("steal (hypervisor)", 0.0))
            / (cores * r.seconds)
            if r.seconds
            else 0.0
        )
        if share > 0.10:
            disturbed.append(f"{r.scenario} run {r.run} ({100 * share:.0f} %)")
    for load in bench.loads:
        share = (
            load.cpu.get("other processes", 0.0) / (cores * load.seconds) if load.seconds else 0.0
        )
        if share > 0.10:
            disturbed.append(f"intake load {load.rate:.0f}/s {load.target} ({100 * share:.0f} %)")
    if not disturbed:
        return ["", "Other processes used less than 10 % of the machine during every measurement."]
    return [
        "",
        "**Warning: the machine was shared.** Other processes and the hypervisor took "
        "more than 10 % of the machine during: " + ", ".join(disturbed) + ". Those figures "
        "are low by an unknown amount; compare CPU per order (below), or re-run on a "
        "quiet machine.",
    ]


def _throughput(bench: Bench, summary: dict[str, Any]) -> list[str]:
    out = [
        "",
        "## Orders per second, accept to draft, ERP calls, CPU",
        "",
        (
            "| scenario | orders | orders/s | accept to draft p50 s | p99 s | ERP calls/order | "
            "CPU ms/order | what binds |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    cores = os.cpu_count() or 1
    for name in summary["names"]:
        med = summary["medians"][name]
        mid = median_run(bench.results, name)
        if mid is None:
            continue
        out.append(
            f"| {name} | {mid.orders} | {fmt(med['rate'])} | {fmt(med['draft_p50'], 2)} "
            f"| {fmt(med['draft_p99'], 2)} | {fmt(med['calls_per_order'], 2)} | "
            f"{fmt(med['cpu_per_order_ms'], 1)} | {binding(mid, cores)} |"
        )
    out += [
        "",
        (
            "orders/s: orders divided by the seconds from the first POST (orderbridge), "
            "the first chain sent (chains) or the script's start, to the last order's end. "
            "Accept to draft: orderbridge from the job's creation by the intake to its "
            "`create_draft` step done (job ledger); the chains from the moment the chain "
            "was sent to the end of its create-draft task (recorded by the task in Redis); "
            "the script from its start (the whole batch is there at once, as for the "
            "others, so an order waits behind those before it). A batch of "
            f"{bench.args.orders} arrives at once, so these include the wait in the queue. "
            "ERP calls: the simulator's own count (`/_sim/calls`), token calls included. "
            "CPU ms/order: user+system CPU of the processes doing the system's work "
            "(orderbridge: worker(s) and intake; chains: their Celery worker(s); script: "
            "the script), not counting Redis, the simulator or the sender; the per-process "
            "figures are below. The bare chain calls no ERP: it is the floor of five Celery "
            "tasks per order. The script at the added latency runs "
            f"{bench.args.script_orders_slow} orders (its rate does not depend on how many)."
        ),
    ]
    return out


def _loads(bench: Bench) -> list[str]:
    if not bench.loads:
        return ["", "## Intake accept latency, open loop", "", "(not measured: `--loads none`)"]
    out = [
        "",
        "## Intake accept latency, open loop",
        "",
        (
            "| offered requests/s | target | requests | p50 ms | p99 ms | max ms | achieved/s | "
            "errors | CPU ms per request, server | redis-server | load generator | other "
            "processes CPU s |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    server = {"orderbridge": "intake", LOAD_TARGETS[0]: "bare-intake"}
    for r in bench.loads:
        out.append(
            f"| {r.rate:.0f} | {r.target} | {r.sent} | {ms(r.p50)} | {ms(r.p99)} | "
            f"{ms(r.max)} | {r.achieved:.0f} | {r.errors} | "
            f"{per_request(r, server[r.target])} | "
            f"{per_request(r, 'redis-server')} | "
            f"{per_request(r, 'bench (posting, polling)')} | "
            f"{r.cpu.get('other processes', 0.0):.1f} |"
        )
    held = []
    for target in LOAD_TARGETS:
        ok = [
            r.rate
            for r in bench.loads
            if r.target == target
            and r.p99 is not None
            and r.p99 <= HOLD_P99_SECONDS
            and not r.errors
        ]
        held.append(f"{target} {fmt(max(ok), 0) if ok else 'none'}")
    out += [
        "",
        (
            f"Each load runs {bench.args.load_seconds:g} s of distinct new-customer orders "
            "(the same bodies for both targets) from one asyncio/aiohttp client with "
            f"{bench.args.load_connections} keep-alive connections, in the benchmark's own "
            "process on the same cores, with no worker running (the intake alone). Send "
            "times are fixed in advance (request i at start + i / rate); latency is "
            "measured from the scheduled time, so a client held up by a busy server counts. "
            "achieved/s: answered requests divided by the time from the first scheduled "
            "send to the last answer: at a load the server cannot keep up with it is the "
            "server's saturation rate. Highest load whose p99 stayed under "
            f"{1000 * HOLD_P99_SECONDS:.0f} ms: " + ", ".join(held) + "."
        ),
    ]
    return out


def per_request(r: LoadResult, process: str) -> str:
    return f"{1000 * r.cpu.get(process, 0.0) / r.sent:.2f}" if r.sent else "n/a"


def _binds(bench: Bench, summary: dict[str, Any], cores: int) -> list[str]:
    out = [
        "",
        "## What binds",
        "",
        (
            '"what binds" above reads CPU seconds per process over the wall time: a Python '
            "process near one core is bound by its own CPU (one interpreter lock per "
            f"process); all processes together near {cores} cores means the machine is full."
        ),
        "",
        (
            "- ERP budget: the benchmark lifts orderbridge's own request budget "
            f"(`requests_per_second = {bench.args.requests_per_second:g}`) and the "
            "simulator's rate limit. At PowerOffice's default budget of 10 requests/s "
            "the ERP binds first for every system: orderbridge at 10 calls/s is about "
            "1.4 new-customer or 10 returning-customer orders/s; the user's chain and "
            "script have no budget at all and would meet the ERP's 429s, which they do not "
            "handle (the task fails, the order is lost unless someone replays it)."
        ),
    ]
    for system in SYSTEMS:
        for kind in (NEW, RETURNING):
            name = scenario_name(system, kind, 0)
            mid = median_run(bench.results, name)
            if mid is not None:
                out.append(f"- {name}: {binding(mid, cores)}.")
    return out


def _erp_calls(bench: Bench, summary: dict[str, Any]) -> list[str]:
    out = ["", "## ERP calls by endpoint (per order, median run)", ""]
    for name in summary["names"][1:]:
        mid = median_run([r for r in bench.results if r.ok], name)
        if mid is None:
            continue
        per = ", ".join(f"`{k}` {v / mid.orders:.2f}" for k, v in sorted(mid.by_endpoint.items()))
        out.append(f"- {name}: {per}")
    return out


def _cpu(bench: Bench, summary: dict[str, Any], nproc: str) -> list[str]:
    out = [
        "",
        "## CPU seconds per process (median run of each scenario)",
        "",
        (
            "utime+stime of each process during the run; the machine has "
            f"{nproc} cores, so {nproc} x wall seconds is all there is."
        ),
        "",
    ]
    procs = sorted({k for r in bench.results for k in r.cpu})
    out.append("| scenario | wall s | " + " | ".join(procs) + " |")
    out.append("|---|---|" + "---|" * len(procs))
    for name in summary["names"]:
        mid = median_run(bench.results, name)
        if mid is None:
            continue
        out.append(
            f"| {name} | {mid.seconds:.1f} | "
            + " | ".join(f"{mid.cpu.get(p, 0):.1f}" for p in procs)
            + " |"
        )
    return out


def _memory(bench: Bench) -> list[str]:
    out = [
        "",
        "## Peak resident memory per process",
        "",
        "| process | peak RSS MiB (VmHWM) |",
        "|---|---|",
    ]
    for name, mib in sorted(bench.rss.items()):
        out.append(f"| {name} | {mib:.0f} |")
    out += [
        "",
        (
            "VmHWM from /proc/<pid>/status of every child process and every process "
            "below it, read at the end of the run (the script's just before it exits): the "
            "peak over the whole run. Worker processes use the thread pool, so each has no "
            "pool children."
        ),
    ]
    return out


def _raw_runs(bench: Bench) -> list[str]:
    out = [
        "",
        "## Raw runs",
        "",
        (
            "| scenario | run | orders | seconds | orders/s | p50 s | p99 s | to draft p50 s | "
            "to draft p99 s | send s | ERP calls | calls/order | states | retries | worker log "
            "| note |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in bench.results:
        out.append(
            f"| {r.scenario} | {r.run} | {r.orders} | {r.seconds:.2f} | {r.rate:.1f} | "
            f"{fmt(r.p50, 1)} | {fmt(r.p99, 1)} | {fmt(r.draft_p50, 2)} | "
            f"{fmt(r.draft_p99, 2)} | {r.post_seconds:.2f} | "
            f"{'' if r.erp_calls is None else r.erp_calls} | "
            f"{fmt(r.calls_per_order, 2)} | "
            f"{', '.join(f'{k}={v}' for k, v in sorted(r.states.items()))} | "
            f"{r.retries} | {events_text(r.events)} | {r.note} |"
        )
    if bench.failures:
        out += ["", "**Failures:**", ""] + [f"- {f}" for f in bench.failures]
    out += [
        "",
        (
            "p50/p99 here: seconds from the first send until 50 %/99 % of the orders were "
            'finished. "worker log" counts lines in orderbridge\'s worker logs during the '
            "run: `step.busy` (a step message found the job's lease taken and was dropped; "
            "the job then waits for the sweeper), `sweep.submitted` (the sweeper put a job "
            "back in its wait set), `not_current` (a stale message for a step already "
            "done), retries, dead letters, errors."
        ),
    ]
    return out


def _settings(bench: Bench) -> list[str]:
    a = bench.args
    return [
        "",
        "## Settings",
        "",
        f"- Redis `{REDIS_URL}` (flushed at start), everything on 127.0.0.1.",
        (
            f"- orderbridge: {a.workers} `orderbridge worker` process(es), pool `threads`, "
            f"concurrency {a.concurrency}, log level {a.log_level} (JSON lines to a file); one "
            "intake (uvicorn, one process); PowerOffice simulator (uvicorn, one process) with "
            "its per-key rate limit disabled (`rate_limit_per_second = 0`). Worker timings: "
            f"`stale_after_seconds = {a.stale_after:g}`, `queued_stale_after_seconds = "
            f"{a.queued_stale_after:g}`, `sweep_interval_seconds = {a.sweep_interval:g}`."
        ),
        (
            f"- `requests_per_second = {a.requests_per_second:g}` on the connection (see What "
            "binds)."
        ),
        "- Code under test: "
        + ", ".join(f"{k} `{v}`" for k, v in bench.code.items())
        + " (worker settings at their defaults, as read when the run started).",
        (
            "- Orders: 3 product lines each, `send_invoice = false`. New customers: a distinct "
            "customer and 3 distinct SKUs per order (worst case). Returning customers: one warm-up "
            "order through the same system first (not measured), then every order the same "
            "customer and SKUs."
        ),
        (
            f"- The user's chain (`bench/user_chain.py`): {a.workers} `celery worker -P threads -c "
            f"{a.concurrency}` process(es) on queue `bench-user`, Celery's defaults otherwise "
            "(JSON, acks early, prefetch 4, no result backend); "
            "`chain(upsert_customer, upsert_products, check_duplicate, create_draft, "
            "send_invoice)`, "
            "each task passing a dict to the next. "
            "The ERP code (`bench/user_erp.py`): one httpx client per process; the token fetched "
            "once and cached until it expires; customer looked up by "
            "`GET /Customers?externalImportReference=` and created if missing; each line's "
            "product looked up by `GET /Products?codes=<sku>` and created if missing (the loop "
            "one writes first; one batched lookup would save 2 GETs per order); the dedupe check "
            "a Redis set of order ids (no lock); `POST /SalesOrders/Complete` with lines by "
            "product code; the invoice step a no-op for these orders. No ledger, no locks, no "
            "budget, no retries. Chains are sent by "
            f"{a.posters} threads, each chain carrying its send time."
        ),
        (
            "- The script (`bench/user_script.py`): one process calling the same functions, one "
            "order after another."
        ),
        (
            f"- Bare chain: `bench/bare_chain.py`, {a.workers} `celery worker -P threads -c "
            f"{a.concurrency}` process(es) on queue `bench-bare`; acks late, prefetch 1, JSON, no "
            "result backend; chains of 5 immutable empty tasks."
        ),
        (
            f"- orderbridge orders are posted over HTTP by {a.posters} threads (one keep-alive "
            "client each)."
        ),
        (
            f"- Added latency for the slow scenarios: {a.latency_ms} ms on every simulator call "
            "(`POST /_sim/latency`)."
        ),
        (
            "- Between scenarios: queues drained, keys removed (tokens and worker liveness kept), "
            "simulator reset. Before measuring, 20 chains, 20 orders and 20 user chains warm the "
            "processes up; before the intake loads, one second at the lowest load for each "
            "target."
        ),
        (
            f"- Warm-up orders that stalled on the lease race were re-enqueued by the benchmark "
            f"instead of waiting for the sweeper: {bench.nudges} time(s). Measured runs are never "
            "touched."
        ),
        (
            f"- Before each scenario and load the benchmark waited up to {a.wait_for_quiet:g} s "
            "for other processes to use less than 0.2 core (`--wait-for-quiet`)."
        ),
        (
            '- "other processes" CPU: the machine\'s busy time during the run minus our '
            "processes'; non-zero means something else shared the machine (redis-server's figure "
            'then includes their use of it too). "steal": time the hypervisor took.'
        ),
        f"- Process logs of this run: `{bench.tmp}`.",
        "",
    ]
