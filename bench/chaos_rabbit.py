"""The chaos run with RabbitMQ as broker (`make chaos-rabbit`): the orders, ERP faults and
worker kills of `make chaos`, but the messages go through quorum queues on a 3-node RabbitMQ
cluster of the run's own nodes, and the leader of the connection's queue is SIGKILLed twice
while orders come in (at about 40 % and 75 % of the posting; the first victim is started again
in between, so that two of three nodes, a majority, stay up). The store stays Redis (the run's
own redis-server, not restarted here). Every order exactly once is the bar, as in `make chaos`.

    .venv/bin/python -m bench.chaos_rabbit [--orders 1000] [--runs 3] [--rate 16]
    .venv/bin/python -m bench.chaos_rabbit --orders 200 --runs 1         # a quick look

Takes every option of `bench.chaos`; writes bench/reports/chaos_rabbit.md. The RabbitMQ nodes
(`tests.support.rabbit_cluster`) are stopped at the end of each run, also on Ctrl-C; the
machine's own RabbitMQ node is never touched.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.chaos import parse_args
from bench.chaos_cluster import Cluster
from bench.chaos_report import markdown, verdict
from bench.chaos_run import ROOT, RunReport, console, run_once
from core.store import STATS
from tests.support.rabbit_cluster import Node, RabbitCluster, available

QUEUE_NAME = "orderbridge-chaos"
KILL_AT = (0.40, 0.75)  # shares of the posting time
WATCH_SECONDS = 30
DEFAULTS = ["--redis-restart", "none", "--out", str(ROOT / "bench" / "reports" / "chaos_rabbit.md")]


class LeaderKiller:
    """SIGKILL the node leading the connection's quorum queue at each of `KILL_AT`; the victim
    is started again at once (it rejoins and catches up), and the next kill waits until it is
    back, so that a majority of the three nodes stays up. After each kill, the jobs finishing
    are watched for `WATCH_SECONDS`: how soon the first one finished, and the longest pause."""

    def __init__(self, rabbit: RabbitCluster, queue: str, posting_seconds: float) -> None:
        self.rabbit, self.queue, self.posting_seconds = rabbit, queue, posting_seconds

    def __call__(self, cluster: Cluster, report: RunReport, started: float) -> threading.Thread:
        thread = threading.Thread(
            target=self._run, args=(cluster, report, started), name="chaos-rabbit", daemon=True
        )
        thread.start()
        return thread

    def _run(self, cluster: Cluster, report: RunReport, started: float) -> None:
        kills: list[dict[str, str]] = []  # per kill: what happened, in the report's order
        helpers: list[threading.Thread] = []
        restart: threading.Thread | None = None
        for n, share in enumerate(KILL_AT):
            time.sleep(max(0.0, started + share * self.posting_seconds - time.monotonic()))
            if restart is not None:
                restart.join()  # a majority up before the next kill
            notes = {"at": f"kill {n + 1} at {share:.0%} of the posting"}
            kills.append(notes)
            try:
                leader = self.rabbit.leader(self.queue)
                t0, killed_at = time.monotonic(), time.time()
                self.rabbit.kill(leader)
                notes["killed"] = f"leader {leader.name} SIGKILLed"
                watch = threading.Thread(
                    target=self._watch_finishes, args=(cluster, killed_at, notes), daemon=True
                )
                watch.start()
                notes["elected"] = self._new_leader(leader.name, t0)
                restart = threading.Thread(target=self._restart, args=(leader, notes), daemon=True)
                restart.start()
                helpers += [watch, restart]
            except Exception as exc:
                notes["error"] = f"{type(exc).__name__}: {exc}"
        for thread in helpers:
            thread.join()
        for notes in kills:
            report.notes.append("; ".join(notes.values()))
            console.print(f"  {report.notes[-1]}")

    def _restart(self, node: Node, notes: dict[str, str]) -> None:
        t0 = time.monotonic()
        try:
            self.rabbit.restart(node)
            notes["restart"] = f"{node.name} started again, back in {time.monotonic() - t0:.0f} s"
        except Exception as exc:
            notes["restart"] = f"{node.name} not started again: {exc}"

    def _new_leader(self, old: str, t0: float) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                node = self.rabbit.leader(self.queue)
                if node.name != old:
                    return (
                        f"new leader {node.name} seen {time.monotonic() - t0:.1f} s after the "
                        f"kill (an upper bound: each rabbitmqctl call takes seconds here)"
                    )
            except (LookupError, RuntimeError):
                pass
            time.sleep(0.5)
        return "no new leader within 60 s"

    @staticmethod
    def _watch_finishes(cluster: Cluster, killed_at: float, notes: dict[str, str]) -> None:
        """When jobs finished (the store's own count) in the `WATCH_SECONDS` after the kill."""
        store = cluster.store()
        last = int(store.redis.hget(STATS.key(), "jobs_done") or 0)
        times = [killed_at]
        while time.time() < killed_at + WATCH_SECONDS:
            now = int(store.redis.hget(STATS.key(), "jobs_done") or 0)
            if now > last:
                times.append(time.time())
                last = now
            time.sleep(0.1)
        if len(times) == 1:
            notes["finishes"] = f"no job finished within {WATCH_SECONDS} s of the kill"
            return
        pause = max(b - a for a, b in zip(times, times[1:], strict=False))
        notes["finishes"] = (
            f"first job finished {times[1] - killed_at:.1f} s after the kill, "
            f"{len(times) - 1} within {WATCH_SECONDS} s, longest pause between two "
            f"{pause:.1f} s"
        )


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(DEFAULTS + given)
    if not available():
        console.print("[red]RabbitMQ's scripts are not in /usr/lib/rabbitmq/bin[/red]")
        return 2
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    started, t0 = datetime.now(UTC), time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="orderbridge-chaos-rabbit-"))
    runs: list[RunReport] = []
    interrupted = False
    try:
        for run in range(1, args.runs + 1):
            rabbit = RabbitCluster(base / f"rabbit{run}")
            try:
                t1 = time.monotonic()
                rabbit.start()
                console.print(
                    f"run {run}: RabbitMQ cluster of 3 up in {time.monotonic() - t1:.0f} s "
                    f"({', '.join(n.name for n in rabbit.nodes)})"
                )
                killer = LeaderKiller(rabbit, f"{QUEUE_NAME}:shop", args.orders / args.rate)
                broker = {"broker_url": rabbit.url, "queue_name": QUEUE_NAME}
                report = run_once(args, run, base, broker=broker, disturb=killer)
            finally:
                rabbit.stop()
            runs.append(report)
            console.print(f"run {run}: {'PASS' if report.passed else 'FAIL'}")
    except KeyboardInterrupt:
        interrupted = True
        console.print("[red]interrupted[/red]")
    command = "python -m bench.chaos_rabbit " + " ".join(given)
    text = markdown(args, runs, started, time.monotonic() - t0, command.strip(), str(base))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_rabbit_section(runs) + text, encoding="utf-8")
    console.print(f"{verdict(runs)}; report written to {out}")
    if interrupted:
        return 130
    return 0 if runs and all(r.passed for r in runs) and len(runs) == args.runs else 1


def _rabbit_section(runs: list[RunReport]) -> str:
    lines = [
        "# orderbridge chaos run with RabbitMQ as broker",
        "",
        "The broker is a 3-node RabbitMQ 3.10 cluster of the run's own nodes on this machine "
        "(quorum queues, publisher confirms; the client is given all three nodes); the store "
        "is the run's own Redis, not restarted in these runs (the Redis restart of "
        "`make chaos` is switched off: `--redis-restart none`). The node leading the "
        f"connection's quorum queue is SIGKILLed at {KILL_AT[0]:.0%} and {KILL_AT[1]:.0%} "
        "of the posting; the first victim is started again in between. Workers are killed "
        "as in `make chaos`. The sections below are `make chaos`'s report of the same runs.",
        "",
        "## The RabbitMQ leader kills",
        "",
    ]
    for r in runs:
        lines += [f"- run {r.run}: {note}" for note in r.notes] or [f"- run {r.run}: no kill"]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines += [
        "",
        f"Load average when the report was written: {load} (on {os.cpu_count()} CPUs); "
        "other work on the machine slows the runs, so the times above are upper bounds.",
    ]
    return "\n".join(lines) + "\n\n"


if __name__ == "__main__":
    sys.exit(main())
