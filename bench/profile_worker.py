"""Where an orderbridge worker spends its CPU on an order: the pipeline under pyinstrument.

    .venv/bin/python -m bench.profile_worker [--orders 300] [--kind new|returning]
                                             [--out /tmp/worker-profile.txt]
                                             [--tool pyinstrument|py-spy]

pyinstrument samples one thread, so the worker runs with Celery's `solo` pool (every task on
the main thread) under `python -m pyinstrument`; the simulator and the intake run as in
`bench.pipeline` (Redis database 12, flushed; free ports). The orders are posted, the worker
drains them, then it is stopped (SIGTERM, a warm shutdown) and pyinstrument writes its text
report. The solo pool runs one task at a time, so the profile shows CPU per order, not
contention between threads. `--tool py-spy` runs the worker as the benchmark does (32 threads)
and samples whichever thread holds the interpreter lock: the CPU, with the contention between
threads (which is how httpcore's shared connection pool showed up); its output is py-spy's
collapsed stacks ("frame;frame;... count" per line), to sum by frame or feed a flame graph.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench import scenarios
from bench.harness import ROOT, Bench, config_toml, console
from core.store import STATS, WORKERS
from workers.processes import Child


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile_worker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--kind", choices=("new", "returning"), default="new")
    parser.add_argument("--out", default="/tmp/worker-profile.txt")
    parser.add_argument(
        "--tool",
        choices=("pyinstrument", "py-spy"),
        default="pyinstrument",
        help="py-spy (in the `bench` extra) samples the thread "
        "holding the interpreter lock, with the thread pool as the "
        "benchmark runs it; it writes a collapsed-stack file (`--out`)",
    )
    options = parser.parse_args(argv)
    os.chdir(ROOT)
    from bench.pipeline import parse_args

    args = parse_args(["--loads", "none", "--concurrency", "1", "--wait-for-quiet", "0"])
    bench = Bench(args)
    try:
        bench.start_services()
        config = bench.tmp / "orderbridge.toml"
        spy = options.tool == "py-spy"
        if spy:
            args.concurrency = 32
        config.write_text(
            config_toml(
                args,
                f"http://127.0.0.1:{bench.sim_port}",
                bench.intake_port,
                pool="threads" if spy else "solo",
            )
        )
        log = open(bench.tmp / "worker-profiled.log", "ab")
        profiler = (
            [
                shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--format",
                "raw",
                "--rate",
                "250",
                "--nonblocking",
                "--gil",
                "-o",
                options.out,
                "--",
                sys.executable,
            ]
            if spy
            else [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", options.out]
        )
        proc = subprocess.Popen(
            [*profiler, "-m", "workers.cli", "worker"],
            env=bench.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        worker = Child("worker0", proc, log)
        bench.children.append(worker)
        bench.workers.append(worker)
        deadline = time.monotonic() + 60
        while not any(bench.redis.scan_iter(WORKERS.key("*"))):
            if time.monotonic() > deadline or not worker.alive:
                raise RuntimeError(f"the profiled worker did not start; see {bench.tmp}")
            time.sleep(0.1)
        tag = bench.tag("prof")
        if options.kind == "returning":
            bench.post_orders(scenarios.returning_orders(tag, 1))
            orders = scenarios.returning_orders(tag, options.orders, start=1)
        else:
            orders = scenarios.new_customer_orders(tag, options.orders)
        start = time.time()
        _, _, ids = bench.post_orders(orders)
        while int(bench.redis.hget(STATS.key(), "jobs_done") or 0) < len(ids) + (
            options.kind == "returning"
        ):
            if time.time() - start > 600:
                raise RuntimeError("the profiled worker did not finish in 10 minutes")
            time.sleep(0.2)
        console.print(f"{len(ids)} orders in {time.time() - start:.1f} s (one task at a time)")
        if spy:  # stop the worker below py-spy; py-spy writes its file when it has exited
            for child in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split():
                os.kill(int(child), signal.SIGTERM)
            proc.wait(timeout=60)
        worker.stop(timeout=60)
    finally:
        bench.stop()
    console.print(f"profile written to {options.out}")
    if not spy:
        print(Path(options.out).read_text()[:6000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
