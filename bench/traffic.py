"""Sending work to the benchmark's running processes and waiting until it is finished.

Orders go over HTTP to the intake, bare chains straight to Celery, each from a few threads that
start together behind a barrier; completion is polled in Redis. Kept apart from the harness
(which owns the processes and turns one batch into a `RunResult`) so that both stay short.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

import httpx
import redis
from rich.console import Console

from core.admission import wait_key
from core.broker import queue_for, task_name
from core.store import JOBS, LOCKS, STATS
from schemas.job import FINAL_STATES

ORDERS_PATH = "/v1/connections/shop/orders"
PIPELINE_QUEUE = queue_for("shop")  # the benchmark's one connection

console = Console()
T = TypeVar("T")


def _timed_threads(work: Callable[[int], T], threads: int) -> tuple[float, float, list[T]]:
    """Run `work(0)` ... `work(threads - 1)` on as many threads, released together by a barrier;
    returns (start wall time, seconds until the last one returned, their results in order)."""
    barrier = threading.Barrier(threads + 1)

    def run(index: int) -> T:
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(run, i) for i in range(threads)]
        barrier.wait()
        start = time.time()
        results = [f.result() for f in futures]
        seconds = time.time() - start
    return start, seconds, results


def post_orders(
    intake_url: str, token: str, orders: list[dict[str, Any]], posters: int
) -> tuple[float, float, list[str]]:
    """POST every order from a few threads; returns (start wall time, seconds, job ids)."""
    posters = max(1, min(posters, len(orders)))
    slices = [orders[i::posters] for i in range(posters)]
    headers = {"Authorization": f"Bearer {token}"}
    clients = [httpx.Client(base_url=intake_url, timeout=60) for _ in range(posters)]

    def post_slice(index: int) -> list[str]:
        client, ids = clients[index], []
        for body in slices[index]:
            response = client.post(ORDERS_PATH, json=body, headers=headers)
            if response.status_code != 202:
                raise RuntimeError(f"intake answered {response.status_code}: {response.text[:300]}")
            ids.append(response.json()["job_id"])
        return ids

    try:
        start, posted, posted_ids = _timed_threads(post_slice, posters)
    finally:
        for client in clients:
            client.close()
    return start, posted, [job_id for ids in posted_ids for job_id in ids]


def send_chains(chains: int, senders: int) -> tuple[float, float]:
    """Send `chains` bare chains (`bench.bare_chain`) from a few threads; returns (start wall
    time, seconds)."""
    from bench.bare_chain import make_chain

    senders = max(1, min(senders, chains))
    counts = [chains // senders + (1 if i < chains % senders else 0) for i in range(senders)]

    def send(index: int) -> None:
        for _ in range(counts[index]):
            make_chain().apply_async()

    start, sent, _ = _timed_threads(send, senders)
    return start, sent


def wait_chains(client: redis.Redis, chains: int, check_alive: Callable[[], None]) -> None:
    """Wait until the bare workers have counted `chains` finished chains (or give up)."""
    from bench.bare_chain import COUNTER_KEY

    deadline = time.monotonic() + max(300.0, chains * 0.3)
    while int(client.get(COUNTER_KEY) or 0) < chains:
        if time.monotonic() > deadline:
            break
        check_alive()
        time.sleep(0.02)


def load_jobs(client: redis.Redis, job_ids: list[str]) -> list[dict[str, Any]]:
    """The stored jobs as plain JSON (`{"state": "missing"}` for an unknown id)."""
    raws = client.mget([JOBS.key(j) for j in job_ids])
    return [json.loads(raw) if raw else {"state": "missing"} for raw in raws]


def wait_jobs(
    client: redis.Redis, job_ids: list[str], timeout: float, check_alive: Callable[[], None]
) -> tuple[dict[str, int], list[float], int, list[float]]:
    """Wait until every job is final; returns (states, sorted finish times, retries, sorted
    seconds from each job's creation (the intake's accept) to its create_draft step done)."""
    want = len(job_ids)
    last_progress, last_count = time.monotonic(), -1
    deadline = time.monotonic() + timeout
    while True:
        done, dup, dead = client.hmget(STATS.key(), "jobs_done", "jobs_duplicate", "dead_letters")
        count = sum(int(v or 0) for v in (done, dup, dead))
        if count >= want:
            break
        now = time.monotonic()
        if count != last_count:
            last_count, last_progress = count, now
        if now > deadline or now - last_progress > 90:
            console.print(f"[red]stopped waiting: {count}/{want} jobs final[/red]")
            break
        check_alive()
        time.sleep(0.05)
    states: dict[str, int] = {}
    finished: list[float] = []
    to_draft: list[float] = []
    for start in range(0, want, 200):
        for job in load_jobs(client, job_ids[start : start + 200]):
            states[job["state"]] = states.get(job["state"], 0) + 1
            if job.get("finished_at"):
                finished.append(datetime.fromisoformat(job["finished_at"]).timestamp())
            seconds = draft_seconds(job)
            if seconds is not None:
                to_draft.append(seconds)
    retries = int(client.hget(STATS.key(), "retries") or 0)
    return states, sorted(finished), retries, sorted(to_draft)


def draft_seconds(job: dict[str, Any]) -> float | None:
    """Seconds from the job's creation (the intake accepted the order) until its create_draft
    step finished, from the job ledger."""
    draft = next((s for s in job.get("steps", []) if s.get("name") == "create_draft"), None)
    if not draft or not draft.get("finished_at") or not job.get("created_at"):
        return None
    return (
        datetime.fromisoformat(draft["finished_at"]) - datetime.fromisoformat(job["created_at"])
    ).total_seconds()


def send_user_chains(orders: list[dict[str, Any]], senders: int) -> tuple[float, float]:
    """Send one user chain (`bench.user_chain`) per order from a few threads, each carrying the
    time it was sent; returns (start wall time, seconds)."""
    from bench.user_chain import make_chain

    senders = max(1, min(senders, len(orders)))
    slices = [orders[i::senders] for i in range(senders)]

    def send(index: int) -> None:
        for order in slices[index]:
            make_chain(order, time.time()).apply_async()

    start, sent, _ = _timed_threads(send, senders)
    return start, sent


def wait_counter(
    client: redis.Redis,
    key: str,
    want: int,
    check_alive: Callable[[], None],
    stall_seconds: float = 90,
) -> int:
    """Wait until the counter `key` reaches `want`, or stops moving for `stall_seconds`."""
    last_count, last_progress = -1, time.monotonic()
    while True:
        count = int(client.get(key) or 0)
        if count >= want:
            return count
        now = time.monotonic()
        if count != last_count:
            last_count, last_progress = count, now
        if now - last_progress > stall_seconds:
            console.print(f"[red]stopped waiting: {count}/{want} finished[/red]")
            return count
        check_alive()
        time.sleep(0.02)


def user_timings(client: redis.Redis) -> tuple[list[float], list[float]]:
    """(sorted finish times, sorted accept-to-draft seconds) recorded by the user's code."""
    from bench import user_erp

    finished = sorted(float(t) for t in client.lrange(user_erp.TIMES_KEY, 0, -1))
    to_draft = []
    for raw in client.lrange(user_erp.DRAFTS_KEY, 0, -1):
        sent, done = (float(v) for v in raw.split())
        to_draft.append(done - sent)
    return finished, sorted(to_draft)


def wait_warm_up(
    client: redis.Redis,
    redis_url: str,
    job_ids: list[str],
    check_alive: Callable[[], None],
    timeout: float = 180,
) -> tuple[dict[str, int], int]:
    """Wait for warm-up jobs without waiting for the sweeper; returns (states, nudges).

    A step message that finds the job's lease still held by the step before it is dropped
    (`step.busy`), and the job then waits `stale_after_seconds` for the sweeper. That happens
    mostly when threads are idle, which is exactly the case for a lone warm-up order. When
    nothing is queued or running and a warm-up job is still not final, it is stalled: we
    enqueue its current step ourselves, as the sweeper would (a nudge). Never done in measured
    runs.
    """
    from celery import Celery

    producer = Celery("bench-nudge", broker=redis_url)
    producer.conf.update(task_serializer="json", accept_content=["json"])
    deadline = time.monotonic() + timeout
    last_busy = time.monotonic()
    nudges = 0
    try:
        while True:
            jobs = load_jobs(client, job_ids)
            states: dict[str, int] = {}
            for job in jobs:
                states[job["state"]] = states.get(job["state"], 0) + 1
            pending = [job for job in jobs if job["state"] not in FINAL_STATES]
            if not pending or time.monotonic() > deadline:
                return states, nudges
            idle = (
                client.llen(PIPELINE_QUEUE) == 0
                and client.hlen("unacked") == 0
                and client.zcard(wait_key("shop")) == 0
                and not any(
                    client.exists(LOCKS.key("job", job["job_id"]))
                    for job in pending
                    if "job_id" in job
                )
            )
            if not idle:
                last_busy = time.monotonic()
            elif time.monotonic() - last_busy > 1.0:
                for job in pending:
                    if job.get("current_step"):
                        producer.send_task(
                            task_name(job["current_step"]),
                            args=[job["job_id"]],
                            queue=PIPELINE_QUEUE,
                        )
                        nudges += 1
                last_busy = time.monotonic()
            check_alive()
            time.sleep(0.1)
    finally:
        producer.close()
