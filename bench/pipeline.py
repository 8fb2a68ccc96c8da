"""End-to-end throughput of the order pipeline beside the chain a user would write, a sequential
script and a bare Celery chain, and the intake's accept latency beside a bare 202 endpoint.

    .venv/bin/python -m bench.pipeline [--orders 1000] [--runs 1] [--workers 1] [--concurrency 32]
                                       [--loads 100,200,400] [--out bench/reports/pipeline.md]
                                       [--quick]

In one run, for `--orders` orders of 3 lines (see bench/README.md for every detail):
- the intake alone, open loop at each of `--loads` requests/s for `--load-seconds`, beside a
  bare FastAPI endpoint that only answers 202 (`bench.bare_intake`): accept latency p50/p99 from
  each request's scheduled send time, and the rate achieved;
- bare chain: `--orders` Celery chains of 5 empty tasks (`bench.bare_chain`);
- for new customers (each order a new customer with 3 new products, the worst case) and for
  returning customers (the same customer and products every time), at 0 ms and at
  `--latency-ms` added to every simulator call: orderbridge (orders POSTed to the intake), the
  chain a user would write (`bench.user_chain`: a Celery `chain()` of five tasks calling the
  simulator with httpx, `bench.user_erp`), and the same calls in a sequential script
  (`bench.user_script`);
- orders/s, p50/p99 from accept to draft created, ERP calls per order, CPU per order, peak RSS
  per process; the goals of issue 11 as PASS/FAIL, and a PNG chart (`bench.chart`).

Everything runs on 127.0.0.1 as child processes; Redis database 12 is flushed at the start.
This module is the entry point (options, main); the processes and measurements are in
`bench.harness` and `bench.measure`, the workload in `bench.scenarios`, the tables and the
markdown report in `bench.report`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import report, scenarios
from bench.harness import ROOT, Bench, console


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--orders", type=int, default=1000, help="orders (and chains) per run")
    parser.add_argument("--runs", type=int, default=1, help="runs per scenario (default 1)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short look: 2 s per intake load, 10 script orders at the latency",
    )
    parser.add_argument("--workers", type=int, default=1, help="orderbridge worker processes")
    parser.add_argument("--concurrency", type=int, default=32, help="threads per worker")
    parser.add_argument("--posters", type=int, default=8, help="threads posting orders/chains")
    parser.add_argument("--latency-ms", type=int, default=150, help="added simulator latency")
    parser.add_argument("--log-level", default="INFO", help="log level of intake and workers")
    parser.add_argument(
        "--requests-per-second",
        type=float,
        default=100000,
        help="orderbridge's own request budget for the connection",
    )
    parser.add_argument(
        "--stale-after",
        type=float,
        default=45.0,
        help="worker.stale_after_seconds (default: the WorkerSettings default)",
    )
    parser.add_argument(
        "--queued-stale-after",
        type=float,
        default=600.0,
        help="worker.queued_stale_after_seconds (default: WorkerSettings')",
    )
    parser.add_argument(
        "--sweep-interval",
        type=float,
        default=1.0,
        help="worker.sweep_interval_seconds (default: WorkerSettings')",
    )
    parser.add_argument(
        "--wait-for-quiet",
        type=float,
        default=10.0,
        help="before each scenario, wait up to this many seconds for other "
        "processes on the machine to go quiet (0: don't)",
    )
    parser.add_argument(
        "--loads",
        default="100,200,400",
        help="open-loop intake loads in requests/s, comma separated ('none': "
        "skip the intake measurement)",
    )
    parser.add_argument(
        "--load-seconds",
        type=float,
        default=None,
        help="seconds per intake load (default 10, --quick 2)",
    )
    parser.add_argument(
        "--loads-only",
        action="store_true",
        help="measure the intake loads only (no workers, no scenarios)",
    )
    parser.add_argument(
        "--load-connections",
        type=int,
        default=32,
        help="keep-alive connections of the open-loop load generator",
    )
    parser.add_argument(
        "--script-orders-slow",
        type=int,
        default=None,
        help="orders for the sequential script at --latency-ms (default 40, --quick 10)",
    )
    parser.add_argument(
        "--only",
        default=None,
        help="run only the scenarios whose name contains this text (e.g. "
        "'new 0 ms'), for a quick A/B; the report says so",
    )
    parser.add_argument(
        "--out",
        default=str(ROOT / "bench" / "reports" / "pipeline.md"),
        help="where the markdown report is written (the chart beside it)",
    )
    args = parser.parse_args(argv)
    args.loads = (
        []
        if args.loads.strip().lower() == "none"
        else [float(v) for v in args.loads.split(",") if v.strip()]
    )
    if args.load_seconds is None:
        args.load_seconds = 2.0 if args.quick else 10.0
    if args.script_orders_slow is None:
        args.script_orders_slow = 10 if args.quick else 40
    return args


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(ROOT)  # children run `python -m ...` and must find the packages
    started = datetime.now(UTC)
    t0 = time.monotonic()
    bench = Bench(args)
    # SIGTERM behaves like Ctrl-C, so the finally below stops every child either way. SIGINT is
    # set explicitly too: a shell starts background jobs with it ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    interrupted = False
    try:
        console.print(f"starting simulator, intake, bare 202 endpoint (logs in {bench.tmp})")
        bench.start_services()
        if args.loads:
            scenarios.intake_loads(bench)
        if not args.loads_only:
            console.print(f"starting {args.workers} orderbridge, bare and user-chain worker(s)")
            bench.start_workers()
            scenarios.warm_up(bench)
            bench.run_all(scenarios.plan(bench, args.only))
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        interrupted = True
        bench.failures.append("interrupted (partial results)")
    except Exception as exc:
        bench.failures.append(f"aborted: {type(exc).__name__}: {exc}")
        console.print(f"[red]aborted: {exc}[/red]")
    finally:
        bench.stop()
    if interrupted and not bench.results and not bench.loads:
        return 130
    summary = report.summarize(bench)
    report.print_tables(bench, summary)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    chart_path: Path | None = out.with_suffix(".png")
    try:
        from bench.chart import draw

        draw(bench, summary, chart_path)
    except ImportError as exc:  # matplotlib is in the `bench` extra
        console.print(f"[yellow]no chart: {exc}[/yellow]")
        chart_path = None
    text = report.markdown(bench, summary, started, time.monotonic() - t0, chart_path)
    out.write_text(text, encoding="utf-8")
    console.print(f"report written to {out}")
    if interrupted:
        return 130
    if bench.failures:
        return 2
    return 0 if all(passed for *_, passed in summary["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
