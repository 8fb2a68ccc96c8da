"""Per-connection figures for the status page, read from the store without changing anything.

The store keeps no per-connection counters, so the figures come from the indexes it already has:
- unfinished jobs: every job not finished has a place in the due-schedule (`ob:due`); their
  records say queued or running (a step running, or waiting for its retry) and when they began;
- done today: a finished job is put on the retention schedule (`ob:purge`) at its finish time
  plus `retention_days`, so today's finishes are the entries scored after midnight (UTC) plus
  the retention; their records are read to keep only `done` ones finished today. (After a
  change of `retention_days` the figure is off until the next day; with `retention_days = 0`
  purged jobs leave the index at once and are not counted.)
- dead letters: the dead-letter index (`ob:dlq`);
- budget left: the shared request budget's own keys (see `core.budget`), peeked at: no slot is
  taken;
- waiting for admission, in flight, and the backlog's estimate ("1,212 waiting, about 7 min at
  9.09 requests/s"): admission's own keys (`core.admission`);
- blocked: a connection needing an operator (Exact re-consent, a Sapera login refused) makes
  its jobs wait with `ConnectionBlocked` instead of failing. It is blocked when the metrics'
  record of blocked connections (`core.metrics_store.BLOCKED_KEY`: connection -> blocked until;
  removed when one of its steps succeeds) names it with a time not long past, or when one of its
  unfinished jobs waits on a step whose last error is such a wait: a transient error whose
  message says the connection's jobs wait (the wording both connectors use, `BLOCKED_MARKER`);
  that job's message is what the page shows.
Everything is read in a few round trips whose size is bounded by the unfinished jobs (at most
`SCAN_LIMIT` of them are read), today's finished jobs and the dead letters, not by the history.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from core.admission import Waiting, describe_eta
from core.budget import budget_keys
from core.metrics_store import blocked_until
from core.runtime import Runtime
from core.store import DUE, JOBS, PURGE, Store
from schemas.dead_letter import DeadLetter
from schemas.job import Job

BLOCKED_MARKER = "jobs wait until then"
BLOCKED_GRACE_SECONDS = 120.0  # a blocked-until this far past still counts (waits are ~15-30 s)
GENERIC_BLOCK = "its jobs wait for an operator (re-consent or credentials; see the worker log)"
CHUNK = 500
SCAN_LIMIT = 10_000


@dataclass(frozen=True)
class BudgetLeft:
    """What is left of a connection's shared request budget at one moment."""

    limit: int
    window_seconds: float
    left: int
    paused_seconds: float = 0.0
    day_limit: int = 0
    day_left: int | None = None


PREVIEWED_SHOWN = 50  # previewed jobs shown per connection in preview mode


@dataclass
class ConnectionFigures:
    name: str
    erp: str = "?"
    queued: int = 0
    running: int = 0
    done_today: int = 0
    dead_letters: int = 0
    oldest_unfinished_at: datetime | None = None
    budget: BudgetLeft | None = None
    blocked: str | None = None
    admission: Waiting | None = None
    backlog: str = ""  # "1,212 waiting, about 7 min at 9.09 requests/s", or "" if none wait

    def oldest_age_seconds(self, now: datetime) -> float | None:
        if self.oldest_unfinished_at is None:
            return None
        return max(0.0, (now - self.oldest_unfinished_at).total_seconds())


@dataclass
class Overview:
    now: datetime
    connections: list[ConnectionFigures]
    dead_letters: list[DeadLetter] = field(default_factory=list)  # newest first
    dead_letters_total: int = 0
    unfinished_total: int = 0
    unfinished_read: int = 0  # fewer than the total when there were more than SCAN_LIMIT
    previewed: list[Job] = field(default_factory=list)  # connections in preview mode


def overview(rt: Runtime, dead_letter_limit: int = 200) -> Overview:
    """The figures of every configured connection (and of any connection the store still has
    jobs or dead letters for), plus the newest dead letters."""
    store = rt.store
    now = redis_now(store)
    figures: dict[str, ConnectionFigures] = {
        name: ConnectionFigures(name=name, erp=conn.erp)
        for name, conn in rt.settings.connections.items()
    }

    def of(name: str) -> ConnectionFigures:
        return figures.setdefault(name, ConnectionFigures(name=name))

    due = cast("list[str]", store.redis.zrange(DUE.key(), 0, SCAN_LIMIT - 1))
    for job in _jobs(store, due):
        if job.is_final:
            continue
        fig = of(job.connection)
        if job.state == "queued":
            fig.queued += 1
        else:
            fig.running += 1
        if fig.oldest_unfinished_at is None or job.created_at < fig.oldest_unfinished_at:
            fig.oldest_unfinished_at = job.created_at
        if fig.blocked is None:
            fig.blocked = blocked_by(job)
    for name, count in done_today(store, rt.settings.retention_days, now).items():
        of(name).done_today = count
    letters, _ = store.dead_letters(limit=None)
    for letter in letters:
        of(letter.connection).dead_letters += 1
    for name, until in blocked_until(store.redis).items():
        if until >= now.timestamp() - BLOCKED_GRACE_SECONDS:
            of(name).blocked = of(name).blocked or GENERIC_BLOCK
    waiting = rt.admission.figures(rt.settings.connections)
    for name, fig in figures.items():
        if name in rt.settings.connections:
            fig.budget = budget_left(rt, name, now)
            fig.admission = waiting.get(name)
            if fig.admission is not None:
                fig.backlog = describe_eta(fig.admission, rt.requests_per_second(name))
    letters.sort(key=lambda letter: letter.created_at, reverse=True)
    return Overview(
        now=now,
        connections=[figures[n] for n in sorted(figures)],
        dead_letters=letters[:dead_letter_limit],
        dead_letters_total=len(letters),
        unfinished_total=store.jobs_in_flight(),
        unfinished_read=len(due),
        previewed=[
            job
            for name, conn in sorted(rt.settings.connections.items())
            if conn.mode == "preview"
            for job in store.previewed_jobs(name, PREVIEWED_SHOWN)
        ],
    )


def redis_now(store: Store) -> datetime:
    """Redis's clock: the one the request budget counts with."""
    seconds, micros = cast("tuple[int, int]", store.redis.time())
    return datetime.fromtimestamp(seconds + micros / 1_000_000, UTC)


def _jobs(store: Store, ids: list[str]) -> Iterator[Job]:
    for start in range(0, len(ids), CHUNK):
        keys = [JOBS.key(i) for i in ids[start : start + CHUNK]]
        for raw in cast("list[str | None]", store.redis.mget(keys)):
            if raw:
                yield Job.model_validate_json(raw)


def done_today(store: Store, retention_days: int, now: datetime) -> dict[str, int]:
    """Jobs finished `done` since midnight UTC, by connection (see the module's note)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    since = midnight.timestamp() + retention_days * 86_400
    ids = cast("list[str]", store.redis.zrangebyscore(PURGE.key(), since, "+inf"))
    counts: dict[str, int] = {}
    for job in _jobs(store, ids):
        if job.state == "done" and job.finished_at is not None and job.finished_at >= midnight:
            counts[job.connection] = counts.get(job.connection, 0) + 1
    return counts


def blocked_by(job: Job) -> str | None:
    """The message of the `ConnectionBlocked` wait the job's current step is in, if any."""
    if job.current_step is None:
        return None
    record = job.step(job.current_step)
    error = record.last_error
    if (
        record.state == "waiting"
        and error is not None
        and error.kind == "transient"
        and BLOCKED_MARKER in error.message
    ):
        return error.message
    return None


def budget_left(rt: Runtime, connection: str, now: datetime) -> BudgetLeft:
    """Peek at the connection's shared budget (the keys `core.budget.RequestBudget` uses)."""
    budget = rt.budget_for(connection)
    key = rt.store.budget_key(rt.settings.connection(connection).erp_settings.budget_key())
    return peek_budget(rt.store, key, budget.limit, budget.window_ms / 1000, budget.day_limit, now)


def peek_budget(
    store: Store, key: str, limit: int, window_seconds: float, day_limit: int, now: datetime
) -> BudgetLeft:
    now_ms = int(now.timestamp() * 1000)
    window_ms = int(window_seconds * 1000)
    _, pause_key, day_key, *_ = budget_keys(key)
    pipe = store.redis.pipeline(transaction=False)
    pipe.zcount(key, f"({now_ms - window_ms}", "+inf")
    pipe.get(pause_key)
    pipe.hmget(day_key, ["used", "reset"])
    used, paused, day = cast("tuple[int, str | None, list[str | None]]", pipe.execute())
    paused_ms = max(0, int(paused or 0) - now_ms)
    day_left: int | None = None
    if day_limit:
        day_used = int(day[0] or 0) if int(day[1] or 0) > now_ms else 0
        day_left = max(0, day_limit - day_used)
    return BudgetLeft(
        limit=limit,
        window_seconds=window_seconds,
        left=max(0, limit - used),
        paused_seconds=paused_ms / 1000,
        day_limit=day_limit,
        day_left=day_left,
    )
