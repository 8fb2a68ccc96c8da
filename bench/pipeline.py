"""End-to-end throughput of the order pipeline, beside a bare Celery chain on the same machine.

    .venv/bin/python -m bench.pipeline [--orders 1000] [--runs 3] [--workers 1] [--concurrency 32]
                                       [--out bench/reports/pipeline.md] [--quick]

Scenarios (each run `--runs` times, interleaved, medians quoted):
- bare chain: 1,000 Celery chains of 5 empty tasks (`bench.bare_chain`), same Redis, same pool
  type and concurrency, acks late, prefetch 1, JSON, no result backend;
- pipeline 0 ms: 1,000 orders of 3 product lines, each for a NEW customer with 3 NEW products
  (the worst case: 7 ERP calls per order), posted over HTTP to the intake, timed from the first
  POST until the last job is final;
- pipeline 150 ms: the same with 150 ms added to every simulator call;
- returning customer: one warm-up order, then 1,000 orders for the same customer and the same
  3 products (distinct order ids), at 0 ms.

Everything runs on 127.0.0.1: the PowerOffice simulator, the intake and the workers are child
processes (`workers.processes.spawn`), Redis database 12 is flushed at the start.

This module is the entry point (options, main); the processes and measurements are in
`bench.harness` and `bench.measure`, the orders and scenarios in `bench.scenarios`, the tables
and the markdown report in `bench.report`.
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
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1000, help="orders (and chains) per run")
    parser.add_argument("--runs", type=int, default=None, help="runs per scenario (default 3)")
    parser.add_argument("--quick", action="store_true", help="one run per scenario")
    parser.add_argument("--workers", type=int, default=1, help="orderbridge worker processes")
    parser.add_argument("--concurrency", type=int, default=32, help="threads per worker")
    parser.add_argument("--posters", type=int, default=8, help="threads posting orders/chains")
    parser.add_argument("--latency-ms", type=int, default=150, help="added simulator latency")
    parser.add_argument("--log-level", default="INFO", help="log level of intake and workers")
    parser.add_argument("--requests-per-second", type=float, default=100000,
                        help="orderbridge's own request budget for the connection")
    parser.add_argument("--stale-after", type=float, default=45.0,
                        help="worker.stale_after_seconds (default: the WorkerSettings default)")
    parser.add_argument("--queued-stale-after", type=float, default=600.0,
                        help="worker.queued_stale_after_seconds (default: WorkerSettings')")
    parser.add_argument("--sweep-interval", type=float, default=1.0,
                        help="worker.sweep_interval_seconds (default: WorkerSettings')")
    parser.add_argument("--wait-for-quiet", type=float, default=10.0,
                        help="before each scenario, wait up to this many seconds for other "
                             "processes on the machine to go quiet (0: don't)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "reports" / "pipeline.md"),
                        help="where the markdown report is written")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
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
        console.print(f"starting simulator, {args.workers} worker(s), intake, bare worker(s) "
                      f"(logs in {bench.tmp})")
        bench.start()
        scenarios.warm_up(bench)
        bench.run_all(scenarios.plan(bench))
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        interrupted = True
        bench.failures.append("interrupted (partial results)")
    except Exception as exc:
        bench.failures.append(f"aborted: {type(exc).__name__}: {exc}")
        console.print(f"[red]aborted: {exc}[/red]")
    finally:
        bench.stop()
    if interrupted and not bench.results:
        return 130
    summary = report.summarize(bench)
    report.print_tables(bench, summary)
    text = report.markdown(bench, summary, started, time.monotonic() - t0)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console.print(f"report written to {out}")
    if interrupted:
        return 130
    if bench.failures:
        return 2
    return 0 if all(passed for *_, passed in summary["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
