"""The chaos run (`make chaos`): orders into PowerOffice under faults, worker kills and a Redis
restart, then count what the ERP holds. Nothing lost and nothing duplicated is the bar.

    .venv/bin/python -m bench.chaos [--orders 1000] [--runs 3] [--out bench/reports/chaos.md]
    .venv/bin/python -m bench.chaos --orders 100 --runs 1          # a quick look

Every run starts its own processes on 127.0.0.1 (a private redis-server with the AOF on, never
the machine's Redis; the simulator; two workers; the intake) and stops them at the end, also on
Ctrl-C. The report says PASS only when every run passed. Exit code 0 on PASS, 1 on FAIL, 130
when interrupted (a partial report is still written).

This module is the entry point (options, main); one run is `bench.chaos_run`, its processes
`bench.chaos_cluster`, faults `bench.chaos_faults`, orders `bench.chaos_orders`, counting
`bench.chaos_count`, the report `bench.chaos_report`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.chaos_report import markdown, verdict
from bench.chaos_run import ROOT, RunReport, console, run_once


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return finish_args(build_parser("python -m bench.chaos", __doc__).parse_args(argv))


def build_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """The options of a chaos run (`bench.chaos_ha` adds its own and other defaults)."""
    p = argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--orders", type=int, default=1000, help="orders per run")
    p.add_argument("--runs", type=int, default=3, help="runs (PASS needs all of them)")
    p.add_argument("--rate", type=float, default=10.0, help="orders POSTed per second")
    p.add_argument("--posters", type=int, default=8, help="threads posting orders")
    p.add_argument("--customers", type=int, default=None, help="default: orders / 10")
    p.add_argument("--articles", type=int, default=60, help="articles in the catalogue")
    p.add_argument(
        "--invalid-share",
        type=float,
        default=0.01,
        help="orders the ERP must refuse (expected dead letters)",
    )
    p.add_argument("--rate-503", type=float, default=0.10, help="share of calls answering 503")
    p.add_argument(
        "--rate-commit-500",
        type=float,
        default=0.03,
        help="share of writes committed, then answered 500",
    )
    p.add_argument(
        "--rate-commit-drop",
        type=float,
        default=0.02,
        help="share of writes committed, then the connection dropped",
    )
    p.add_argument("--burst-every", type=float, default=20.0, help="seconds between 429 bursts")
    p.add_argument(
        "--burst-seconds",
        type=float,
        default=1.0,
        help="a 429 burst takes as many calls as the last this many seconds made",
    )
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=16, help="threads per worker")
    p.add_argument(
        "--kill-every", type=float, default=10.0, help="seconds between worker SIGKILLs (0: none)"
    )
    p.add_argument(
        "--redis-restart",
        choices=("shutdown", "kill", "none"),
        default="shutdown",
        help="how Redis is restarted half-way through the posting",
    )
    p.add_argument("--appendfsync", choices=("everysec", "always"), default="everysec")
    p.add_argument(
        "--erp-unique",
        action="store_true",
        help="let the simulator refuse a second order reference or article code "
        "(default off: a twin is stored and counted)",
    )
    p.add_argument("--stale-after", type=float, default=45.0)
    p.add_argument("--queued-stale-after", type=float, default=600.0)
    p.add_argument("--sweep-interval", type=float, default=1.0)
    p.add_argument("--visibility-timeout", type=int, default=60)
    p.add_argument(
        "--http-timeout", type=float, default=None, help="worker.http_timeout_seconds (default)"
    )
    p.add_argument(
        "--sending-settle",
        type=float,
        default=None,
        help="worker.sending_settle_seconds (default): a fresh sending mark's wait",
    )
    p.add_argument("--retry-base", type=float, default=0.5)
    p.add_argument("--retry-cap", type=float, default=10.0)
    p.add_argument("--retry-window", type=float, default=3600.0)
    p.add_argument(
        "--requests-per-second",
        type=float,
        default=50.0,
        help="orderbridge's own request budget for the connection",
    )
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=600.0,
        help="seconds to wait after the last POST for every job to be final",
    )
    p.add_argument(
        "--settle", type=float, default=5.0, help="seconds to let late messages run before counting"
    )
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--out", default=str(ROOT / "bench" / "reports" / "chaos.md"))
    return p


def finish_args(args: argparse.Namespace) -> argparse.Namespace:
    if args.customers is None:
        args.customers = max(1, args.orders // 10)
    return args


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_all(args, [args] * args.runs, "python -m bench.chaos", argv)


def run_all(
    args: argparse.Namespace,
    plan: list[argparse.Namespace],
    prog: str,
    argv: list[str] | None,
    title: str = "orderbridge chaos run",
) -> int:
    """Run each of `plan` (the options of one run each) in turn; write the report on `args`."""
    os.chdir(ROOT)  # children run `python -m workers.cli ...` and must find the packages
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    started, t0 = datetime.now(UTC), time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="orderbridge-chaos-"))
    runs: list[RunReport] = []
    interrupted = False
    try:
        for run, run_args in enumerate(plan, 1):
            report = run_once(run_args, run, base)
            runs.append(report)
            c = report.counts
            summary = (
                (
                    f"{c.orders_in} in, {c.documents} sales orders, {len(c.lost)} lost, "
                    f"{len(c.duplicates)} duplicated, dead {c.dead_expected}+"
                    f"{len(c.dead_unexpected)}, drain {report.drain_seconds}"
                )
                if c
                else ""
            )
            console.print(f"run {run}: {'PASS' if report.passed else 'FAIL'} {summary}")
    except KeyboardInterrupt:
        interrupted = True
        console.print("[red]interrupted[/red]")
    command = f"{prog} " + " ".join(argv if argv is not None else sys.argv[1:])
    text = markdown(args, runs, started, time.monotonic() - t0, command.strip(), str(base), title)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console.print(f"{verdict(runs)}; report written to {out}")
    if interrupted:
        return 130
    return 0 if runs and all(r.passed for r in runs) and len(runs) == len(plan) else 1


if __name__ == "__main__":
    sys.exit(main())
