"""Many shops on one installation (issue 16): is one shop's sale or ERP outage felt by another?

    .venv/bin/python -m bench.fairness [--burst 1500] [--burst-seconds 7] [--b-orders 20]
                                       [--outage-orders 1000] [--outage-seconds 180]
                                       [--shared-seconds 60] [--out bench/reports/fairness.md]

Scenarios, in one run on private processes (`bench.fairness_cluster`):
1. B alone: B (Duett) gets one order a second: its accept-to-done p90 is the baseline.
2. A's sale: A (PowerOffice Go, 10 requests/s per subscription key) gets `--burst` orders within
   `--burst-seconds`; meanwhile B gets one order a second again, and A one urgent order. B's p90
   against 2 x its baseline + 1 s; the urgent order against the same bound; A's ERP calls per
   second while its backlog lasts against its budget; the longest broker queue of each
   connection; Redis memory per waiting job.
3. A's ERP down: it answers 503 to everything for `--outage-seconds` while `--outage-orders`
   arrive for A, B gets one order a second throughout; then it recovers: B's bound again, the
   429s the simulator gave A after recovery (wanted: none), A's drain order (oldest first).
4. A shared budget: A and A2 (same PowerOffice subscription key) both with backlogs: each one's
   share of the calls over `--shared-seconds`.
The suite's test (tests/e2e/test_fairness.py) runs the same scenarios, smaller, with looser
bounds; this report has the precise figures.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.fairness_cluster import A2, A, B, FairCluster
from core.admission import flight_key, in_flight_cap, wait_key
from core.broker import queue_for
from core.store import Store

BUDGET_LIMIT, BUDGET_WINDOW = 10, 1.1  # PowerOffice: what our shared budget allows one key
ERP_LIMIT = 10.0  # what the ERP itself allows (requests per second)


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(0.9 * len(ordered))) - 1)] if ordered else float("nan")


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def latencies(cluster: FairCluster, ids: list[str]) -> list[float]:
    """Accept to done (seconds) of every finished job among `ids`."""
    return [
        parse_time(j["finished_at"]) - parse_time(j["created_at"])
        for j in cluster.jobs(ids)
        if j.get("finished_at") and j["state"] == "done"
    ]


def wait_done(cluster: FairCluster, ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        jobs = cluster.jobs(ids)
        if len(jobs) == len(ids) and all(
            j["state"] in ("done", "duplicate", "dead", "cancelled") for j in jobs
        ):
            return
        if time.monotonic() > deadline:
            pending = sum(1 for j in jobs if j["state"] not in ("done", "duplicate"))
            raise TimeoutError(f"{pending} of {len(ids)} jobs unfinished after {timeout:.0f} s")
        time.sleep(0.5)


def trickle(
    cluster: FairCluster,
    connection: str,
    count: int,
    interval: float,
    prefix: str,
    customers: int = 3,
) -> tuple[threading.Thread, list[str]]:
    """One order every `interval` seconds in a thread of its own; the ids fill in as sent."""
    ids: list[str] = []

    def run() -> None:
        start = time.monotonic()
        for i in range(count):
            delay = start + i * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            ids.append(
                cluster.post(connection, cluster.order(connection, f"{prefix}{i}", i % customers))
            )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, ids


@dataclass
class Sampler:
    """Every 0.1 s: each connection's broker queue and wait set, and Redis's memory."""

    cluster: FairCluster
    connections: tuple[str, ...] = (A, A2, B)
    max_queue: dict[str, int] = field(default_factory=dict)
    max_waiting: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)
    peak_memory: int = 0
    samples: list[tuple[float, int]] = field(default_factory=list)  # (time, A waiting)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        client = self.cluster.store().redis
        while not self._stop.wait(0.1):
            pipe = client.pipeline(transaction=False)
            for c in self.connections:
                pipe.llen(queue_for(c))
                pipe.zcard(wait_key(c))
                pipe.zcount(flight_key(c), time.time(), "+inf")
            pipe.info("memory")
            replies = pipe.execute()
            for i, c in enumerate(self.connections):
                queue, waiting, flight = replies[i * 3 : i * 3 + 3]
                self.max_queue[c] = max(self.max_queue.get(c, 0), int(queue))
                self.max_waiting[c] = max(self.max_waiting.get(c, 0), int(waiting))
                self.max_in_flight[c] = max(self.max_in_flight.get(c, 0), int(flight))
            self.peak_memory = max(self.peak_memory, int(replies[-1]["used_memory"]))
            self.samples.append((time.time(), int(replies[1])))

    def backlog_window(self) -> tuple[float, float] | None:
        """From the first to the last sample with A's jobs waiting."""
        times = [t for t, waiting in self.samples if waiting > 0]
        return (times[0], times[-1]) if times else None


def calls_in(calls: list[dict[str, Any]], since: float, until: float) -> list[dict[str, Any]]:
    return [c for c in calls if since <= c["at"] <= until]


# --- the scenarios ----------------------------------------------------------------------------


@dataclass
class Alone:
    latencies: list[float]

    @property
    def p90(self) -> float:
        return p90(self.latencies)

    @property
    def bound(self) -> float:
        return 2 * self.p90 + 1.0


def warm_up(cluster: FairCluster) -> None:
    """One order of each of B's customers and one of A's: their customers and articles exist
    in the ERPs and in orderbridge's caches afterwards, as in a shop that has been running (so
    B's baseline is not its very first orders)."""
    ids = [cluster.post(B, cluster.order(B, f"warm-{i}", i)) for i in range(3)]
    ids.append(cluster.post(A, cluster.order(A, "warm-a", 0)))
    wait_done(cluster, ids, 120)


def b_alone(cluster: FairCluster, orders: int, interval: float = 1.0) -> Alone:
    thread, ids = trickle(cluster, B, orders, interval, "alone-")
    thread.join()
    wait_done(cluster, ids, 120)
    return Alone(latencies(cluster, ids))


@dataclass
class Sale:
    burst: int
    burst_seconds: float
    b_latencies: list[float]
    urgent_latency: float
    a_calls_per_second: float
    a_window_seconds: float
    a_drain_seconds: float
    a_429s: int
    max_queue: dict[str, int]
    max_waiting: dict[str, int]
    max_in_flight: dict[str, int]
    memory_per_waiting_job: float

    @property
    def utilization(self) -> float:
        """A's calls per second against what its budget allows (limit per window)."""
        return self.a_calls_per_second / (BUDGET_LIMIT / BUDGET_WINDOW)


def sale(
    cluster: FairCluster,
    burst: int,
    burst_seconds: float,
    b_orders: int,
    customers: int = 100,
    drain_timeout: float = 1800,
) -> Sale:
    memory_before = int(cluster.store().redis.info("memory")["used_memory"])
    bodies = [cluster.order(A, f"sale-{i}", i % customers) for i in range(burst)]
    a_ids: list[str] = []
    with Sampler(cluster) as sampler:
        started = time.time()
        sender = threading.Thread(
            target=lambda: a_ids.extend(cluster.send_paced(A, bodies, burst_seconds)), daemon=True
        )
        sender.start()
        time.sleep(min(2.0, burst_seconds / 2))
        b_thread, b_ids = trickle(cluster, B, b_orders, 1.0, "sale-b-")
        time.sleep(b_orders / 2)
        urgent_id = cluster.post(A, cluster.order(A, "sale-urgent", 0, urgent=True))
        sender.join()
        b_thread.join()
        wait_done(cluster, [*b_ids, urgent_id], 300)
        wait_done(cluster, a_ids, drain_timeout)
        finished = time.time()
    window = sampler.backlog_window() or (started, finished)
    calls = [c for c in cluster.sim_calls(cluster.po) if c["at"] >= started]
    # the steady backlog: from 3 s after it began to its end (the first seconds fill the window)
    since, until = window[0] + 3.0, window[1]
    steady = calls_in(calls, since, until)
    rate = len(steady) / (until - since) if until > since else 0.0
    urgent = latencies(cluster, [urgent_id])
    waiting = max(1, sampler.max_waiting.get(A, 0))
    return Sale(
        burst=burst,
        burst_seconds=burst_seconds,
        b_latencies=latencies(cluster, b_ids),
        urgent_latency=urgent[0] if urgent else float("nan"),
        a_calls_per_second=rate,
        a_window_seconds=until - since,
        a_drain_seconds=finished - started,
        a_429s=sum(1 for c in calls if c["status"] == 429),
        max_queue=dict(sampler.max_queue),
        max_waiting=dict(sampler.max_waiting),
        max_in_flight=dict(sampler.max_in_flight),
        memory_per_waiting_job=(sampler.peak_memory - memory_before) / waiting,
    )


@dataclass
class Outage:
    orders: int
    seconds: float
    b_latencies: list[float]
    a_429s_after: int
    a_429s_during: int
    a_peak_calls_after: int  # the most API calls (token requests aside) in any second after
    displacement: int  # the furthest any A job finished from its place in arrival order
    in_flight_cap: int
    recovered_to_drained: float
    dead_letters: int
    calls_during: int
    calls_late: int  # in the outage's second half, once the breaker is open: the probes only


def outage(
    cluster: FairCluster,
    orders: int,
    seconds: float,
    customers: int = 100,
    drain_timeout: float = 1800,
    b_after: float = 20.0,
) -> Outage:
    """A's ERP answers 503 for `seconds` while `orders` arrive for A; B gets one order a
    second throughout and `b_after` seconds beyond."""
    fault = cluster.po.post(
        "/_sim/faults", json={"match": "*", "mode": "status", "status": 503, "count": -1}
    )
    fault.raise_for_status()
    began = time.time()
    bodies = [cluster.order(A, f"down-{i}", i % customers) for i in range(orders)]
    a_ids: list[str] = []
    sender = threading.Thread(
        target=lambda: a_ids.extend(cluster.send_paced(A, bodies, seconds * 0.8)), daemon=True
    )
    sender.start()
    b_count = int(seconds + b_after)
    b_thread, b_ids = trickle(cluster, B, b_count, 1.0, "down-b-")
    time.sleep(max(0.0, began + seconds - time.time()))
    cluster.po.delete("/_sim/faults").raise_for_status()
    recovered = time.time()
    sender.join()
    b_thread.join()
    wait_done(cluster, a_ids, drain_timeout)
    drained = time.time()
    wait_done(cluster, b_ids, 120)
    calls = [c for c in cluster.sim_calls(cluster.po) if c["at"] >= began]
    after = [c for c in calls if c["at"] >= recovered]
    jobs = cluster.jobs(a_ids)
    by_arrival = sorted(jobs, key=lambda j: j["created_at"])
    by_finish = {
        j["job_id"]: rank
        for rank, j in enumerate(sorted(jobs, key=lambda j: j.get("finished_at") or "~"))
    }
    displacement = max(
        (abs(by_finish[j["job_id"]] - rank) for rank, j in enumerate(by_arrival)), default=0
    )
    times = sorted(c["at"] for c in after if "token" not in c["endpoint"].lower())
    peak = 0
    start = 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:  # the ERP's window: 10 calls in any second
            start += 1
        peak = max(peak, end - start + 1)
    dead = cluster.store().dead_letters(limit=1)[1]
    return Outage(
        orders=orders,
        seconds=seconds,
        b_latencies=latencies(cluster, b_ids),
        a_429s_after=sum(1 for c in after if c["status"] == 429),
        a_429s_during=sum(1 for c in calls if c["status"] == 429 and c["at"] < recovered),
        a_peak_calls_after=peak,
        displacement=displacement,
        in_flight_cap=in_flight_cap(BUDGET_LIMIT, BUDGET_WINDOW),
        recovered_to_drained=drained - recovered,
        dead_letters=dead,
        calls_during=sum(1 for c in calls if c["at"] < recovered),
        calls_late=sum(1 for c in calls if began + seconds / 2 <= c["at"] < recovered),
    )


@dataclass
class Shared:
    seconds: float
    calls: dict[str, float]

    def share(self, connection: str) -> float:
        total = sum(self.calls.values())
        return self.calls.get(connection, 0.0) / total if total else 0.0


def erp_calls_by_connection(store: Store) -> dict[str, float]:
    from core import metrics_store as m

    snap = m.read_snapshot(store.redis)
    out: dict[str, float] = {}
    for labels, value in snap.counters.get(m.ERP_REQUESTS, {}).items():
        out[labels[0]] = out.get(labels[0], 0.0) + value
    return out


def shared(cluster: FairCluster, orders: int, seconds: float, customers: int = 100) -> Shared:
    """A and A2 each get `orders` at once (A first, so A's backlog is older), then the calls
    each makes over `seconds` while both still wait."""
    store = cluster.store()
    cluster.send_paced(
        A, [cluster.order(A, f"shared-{i}", i % customers) for i in range(orders)], 2.0
    )
    cluster.send_paced(
        A2, [cluster.order(A2, f"shared-{i}", i % customers) for i in range(orders)], 2.0
    )
    time.sleep(3.0)  # both have jobs in flight
    before = erp_calls_by_connection(store)
    time.sleep(seconds)
    after = erp_calls_by_connection(store)
    waiting = {c: store.redis.zcard(wait_key(c)) for c in (A, A2)}
    if not all(waiting.values()):
        raise RuntimeError(
            f"a backlog ran out during the measurement ({waiting}): send more orders"
        )
    return Shared(
        seconds=seconds, calls={c: after.get(c, 0.0) - before.get(c, 0.0) for c in (A, A2)}
    )


# --- the report ---------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(
    args: argparse.Namespace, alone: Alone, sale_run: Sale, down: Outage, share: Shared, wall: float
) -> str:
    bound = alone.bound
    sale_b, down_b = p90(sale_run.b_latencies), p90(down.b_latencies)
    rows = [
        (
            "B's p90 during A's sale (s)",
            f"{sale_b:.2f}",
            f"<= {bound:.2f} (2 x {alone.p90:.2f} + 1)",
            sale_b <= bound,
        ),
        (
            "A's ERP calls/s during its backlog, against its budget (10 per 1.1 s = 9.09/s)",
            f"{sale_run.a_calls_per_second:.2f} ({sale_run.utilization:.0%})",
            ">= 90 %",
            sale_run.utilization >= 0.9,
        ),
        (
            "A's urgent order during its backlog (s)",
            f"{sale_run.urgent_latency:.2f}",
            f"<= {bound:.2f}",
            sale_run.urgent_latency <= bound,
        ),
        (
            "A's messages in the broker at most, during its backlog (admitted: queued or running)",
            f"{sale_run.max_queue.get(A, 0)} ({sale_run.max_in_flight.get(A, 0)})",
            "small, bounded",
            sale_run.max_in_flight.get(A, 0) <= 2 * down.in_flight_cap,
        ),
        (
            "B's p90 during and after A's outage (s)",
            f"{down_b:.2f}",
            f"<= {bound:.2f}",
            down_b <= bound,
        ),
        (
            "429s the simulator gave A after recovery",
            str(down.a_429s_after),
            "0",
            down.a_429s_after == 0,
        ),
        (
            "A's drain order after recovery: furthest a job finished from its arrival rank",
            str(down.displacement),
            f"<= {2 * down.in_flight_cap} (twice the jobs in flight)",
            down.displacement <= 2 * down.in_flight_cap,
        ),
        (
            "A's share of a shared budget over a minute",
            f"{share.share(A):.0%}",
            ">= 40 %",
            share.share(A) >= 0.4,
        ),
        (
            "A2's share of a shared budget over a minute",
            f"{share.share(A2):.0%}",
            ">= 40 %",
            share.share(A2) >= 0.4,
        ),
    ]
    lines = [
        "# Fairness between connections (issue 16)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python -m bench.fairness "
        f"--burst {args.burst} --burst-seconds {args.burst_seconds:g} --b-orders "
        f"{args.b_orders} --outage-orders {args.outage_orders} --outage-seconds "
        f"{args.outage_seconds:g} --shared-seconds {args.shared_seconds:g}` (what `make bench` "
        f"runs; wall time {wall / 60:.1f} min) on this machine (2 cores): one worker process "
        f"of 16 threads, a private redis-server, the PowerOffice simulator at its real 10 "
        f"requests/s per subscription key, the Duett simulator; A and A2 on PowerOffice (one "
        f"subscription key), B on Duett at its default budget of 5 requests/s.",
        "",
        "| goal | measured | wanted | verdict |",
        "|---|---|---|---|",
        *(f"| {g} | {m} | {w} | {verdict(ok)} |" for g, m, w, ok in rows),
        "",
        "## Figures",
        "",
        f"- B alone: {len(alone.latencies)} orders, one a second; accept to done p50 "
        f"{statistics.median(alone.latencies):.2f} s, p90 {alone.p90:.2f} s.",
        f"- A's sale: {sale_run.burst} orders within {sale_run.burst_seconds:g} s (a pool of "
        f"100 customers: most are returning ones); drained in {sale_run.a_drain_seconds:.0f} s; "
        f"A's steady backlog measured over {sale_run.a_window_seconds:.0f} s: "
        f"{sale_run.a_calls_per_second:.2f} calls/s = {sale_run.utilization:.0%} of our budget "
        f"(10 per 1.1 s) and {sale_run.a_calls_per_second / ERP_LIMIT:.0%} of the ERP's 10/s "
        f"(the budget's window keeps 10 % slack so that no call arrives early at the ERP); "
        f"429s: {sale_run.a_429s}. B during the sale: p50 "
        f"{statistics.median(sale_run.b_latencies):.2f} s, p90 {sale_b:.2f} s "
        f"({len(sale_run.b_latencies)} orders).",
        f"- Most in the broker at once (per connection's queue): "
        f"{_per(sale_run.max_queue)}; most waiting in Redis for admission: "
        f"{_per(sale_run.max_waiting)}; most admitted (queued or running): "
        f"{_per(sale_run.max_in_flight)}.",
        f"- Redis memory per waiting job: {sale_run.memory_per_waiting_job / 1024:.1f} KiB "
        f"(peak used_memory less the start, over the most jobs waiting at once; it is mostly "
        f"the job record with its order, which a waiting job needs anyway; its place in the "
        f"wait set and its label are a few dozen bytes).",
        f"- A's outage: 503 to everything for {down.seconds:g} s while {down.orders} orders "
        f"arrived; {down.calls_during} calls reached the ERP meanwhile (the first failures and "
        f"their retries until the breaker opened, then one probe at a time: "
        f"{down.calls_late} in the outage's second half, token requests included); 429s "
        f"during: {down.a_429s_during}, after: {down.a_429s_after}; after recovery at most "
        f"{down.a_peak_calls_after} API calls "
        f"(token requests aside) arrived within any one second (the ERP allows 10); drained "
        f"{down.recovered_to_drained:.0f} s after recovery; dead letters: {down.dead_letters}; "
        f"B's p90 {down_b:.2f} s ({len(down.b_latencies)} orders).",
        f"- Shared budget over {share.seconds:g} s: A {share.calls.get(A, 0):.0f} calls, A2 "
        f"{share.calls.get(A2, 0):.0f} calls (orderbridge's own per-connection ERP counters).",
        "",
        "## How",
        "",
        "Accept to done: from the job's creation by the intake to its end (job record). Call "
        "rates and 429s: the PowerOffice simulator's own call log. Queue and wait-set lengths "
        "and Redis memory: sampled every 0.1 s. The drain order: A's jobs ranked by arrival "
        "and by finish; the largest difference between a job's two ranks. See "
        "`bench/fairness.py`.",
    ]
    return "\n".join(lines) + "\n"


def _per(values: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(values.items()))


def run(args: argparse.Namespace, log: Callable[[str], None] = print) -> str:
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="ob-fair-") as tmp:
        cluster = FairCluster(Path(tmp), concurrency=args.concurrency)
        try:
            cluster.start()
            warm_up(cluster)
            log("B alone ...")
            alone = b_alone(cluster, args.b_orders)
            log(f"  p90 {alone.p90:.2f} s; A's sale ...")
            sale_run = sale(cluster, args.burst, args.burst_seconds, args.b_orders)
            log(
                f"  B p90 {p90(sale_run.b_latencies):.2f} s, A {sale_run.utilization:.0%}; "
                f"A's outage ..."
            )
            down = outage(cluster, args.outage_orders, args.outage_seconds)
            log(f"  B p90 {p90(down.b_latencies):.2f} s, 429s {down.a_429s_after}; shared ...")
            share = shared(cluster, args.shared_orders, args.shared_seconds)
        finally:
            cluster.stop()
    return report(args, alone, sale_run, down, share, time.time() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--burst", type=int, default=1500)
    parser.add_argument("--burst-seconds", type=float, default=7.0)
    parser.add_argument("--b-orders", type=int, default=20)
    parser.add_argument("--outage-orders", type=int, default=1000)
    parser.add_argument("--outage-seconds", type=float, default=180.0)
    parser.add_argument("--shared-orders", type=int, default=600)
    parser.add_argument("--shared-seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", default="bench/reports/fairness.md")
    args = parser.parse_args()
    text = run(args)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
