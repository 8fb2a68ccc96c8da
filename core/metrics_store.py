"""The Redis side of the metrics: what every process records, and what `/metrics` reads back.

Metrics must cover every worker process, so nothing is kept in a process's own registry: each
process adds to counters and histogram buckets in Redis, and the intake reads them at scrape
time. Recording stays cheap:
- counters that change with a job's state (finished, retried, waited) ride in the `counters` of
  the `Store.save_job` pipeline the runner sends anyway (`finished_field` and friends);
- ERP calls, budget waits and step run times are added up in memory (`Recorder`) and written in
  one command when the runner's delivery ends (or, outside steps, at most every few seconds).
Fields are JSON arrays `[family, label values...]`, so label values never need escaping.
The per-connection gauges (dead letters, oldest unfinished job) are computed at scrape time from
what the store keeps anyway, reading only the first bytes of each record, and only the records
that are new since the process's previous scrape (`FactCache`).
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import redis
from redis.client import NEVER_DECODE

from core.keyspace import Family
from core.logging import get_logger
from core.store import DEAD_LETTER_INDEX, DEAD_LETTERS, DUE, JOBS, STATS, WORKERS

log = get_logger("orderbridge.metrics")

# --- keys (all metric keys are named here) -------------------------------------------------------
STATS_KEY = STATS.key()  # the store's counters; save_job adds to it
METRICS = Family(
    "m",
    "`counts` (hash: counters and float sums), `hist` (hash: histogram buckets and sums), "
    "`blocked` (hash connection -> blocked until)",
)
COUNTS_KEY = METRICS.key("counts")  # counters and float sums written by `Recorder.flush`
HIST_KEY = METRICS.key("hist")  # histogram buckets (not cumulative) and sums
BLOCKED_KEY = METRICS.key("blocked")  # connection -> blocked until (epoch seconds)
DLQ_KEY = DEAD_LETTER_INDEX.key()
DUE_KEY = DUE.key()
WORKER_PATTERN = WORKERS.key("*")

# --- families recorded in Redis (names without the `_total` Prometheus adds) ---------------------
ACCEPTED = "orders_accepted"  # connection
FINISHED = "orders_finished"  # connection, state
RETRIED = "step_retried"  # connection
STEP_WAITS = "step_waits"  # connection, reason
ERP_REQUESTS = "erp_requests"  # connection, endpoint, status_class
ERP_RATE_LIMITED = "erp_rate_limited"  # connection
BUDGET_WAITS = "budget_waits"  # connection
BUDGET_WAIT_SECONDS = "budget_wait_seconds"  # connection (float)
STEP_RUNTIME = "step_runtime_seconds"  # connection, step (histogram)

# Step run times: from a cached look-up (ms) to a step that waited out a budget (tens of s).
BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    float("inf"),
)
FLUSH_EVERY_SECONDS = 2.0
SCAN_LIMIT = 10_000  # unfinished jobs / dead letters looked at per scrape
HEAD_BYTES = 512  # of a job's or letter's JSON: its connection and dates come first


@functools.lru_cache(maxsize=4096)  # few distinct label sets; saves the JSON encoding per call
def field_name(family: str, *labels: str) -> str:
    """A counter's hash field: `["family", "label", ...]`."""
    return json.dumps([family, *labels], separators=(",", ":"))


def parse_field(name: str) -> tuple[str, tuple[str, ...]] | None:
    """`(family, labels)` of a field written by `field_name`, or None for any other field."""
    if not name.startswith("["):
        return None
    try:
        parts = json.loads(name)
    except ValueError:
        return None
    if not isinstance(parts, list) or not parts or not all(isinstance(p, str) for p in parts):
        return None
    return parts[0], tuple(parts[1:])


def accepted_field(connection: str) -> str:
    return field_name(ACCEPTED, connection)


def finished_field(connection: str, state: str) -> str:
    return field_name(FINISHED, connection, state)


def retried_field(connection: str) -> str:
    return field_name(RETRIED, connection)


def waited_field(connection: str, reason: str) -> str:
    return field_name(STEP_WAITS, connection, reason)


# --- ERP endpoints as low-cardinality templates -------------------------------------------------
_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
    r"[0-9a-fA-F]{12}$"
)
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_NUMBER = re.compile(r"^-?\d+$")
_ODATA_KEY = re.compile(r"\((?:guid)?'[^']*'\)|\(\d+\)")
_EXTENSION = re.compile(r"^(.+?)(\.(?:json|xml|pdf))$")


def _is_id(segment: str) -> bool:
    if _NUMBER.match(segment) or _UUID.match(segment):
        return True
    if _HEX.match(segment) and len(segment) >= 12 and any(c.isdigit() for c in segment):
        return True  # a long hex id (an object id, a hash)
    return "@" in segment or "%" in segment or len(segment) > 40


def endpoint_template(method: str, path: str) -> str:
    """`METHOD /path` with the ids in the path replaced by `{id}`, so that every call to the same
    endpoint shares one label value (`GET /SalesOrders/123` -> `GET /SalesOrders/{id}`)."""
    path = _ODATA_KEY.sub(lambda m: "({id})", path.split("?", 1)[0])
    segments = []
    for segment in path.split("/"):
        extension = _EXTENSION.match(segment)
        stem, suffix = (extension.group(1), extension.group(2)) if extension else (segment, "")
        segments.append("{id}" + suffix if stem and _is_id(stem) else segment)
    return f"{method.upper()} {'/'.join(segments) or '/'}"


def status_class(status: int | None) -> str:
    """`2xx` ... `5xx`, or `error` when no answer came (connect error, timeout, dropped)."""
    if status is None or not 100 <= status <= 599:
        return "error"
    return f"{status // 100}xx"


def bucket_of(seconds: float) -> str:
    """The (non-cumulative) bucket an observation falls in, by its upper bound."""
    for bound in BUCKETS:
        if seconds <= bound:
            return _le(bound)
    return "+Inf"


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


# --- recording -----------------------------------------------------------------------------------
# One command for a whole flush (a pipeline of ten small commands costs redis-py three times as
# much). KEYS: counts, histograms, blocked. ARGV: n, then n times (1|2 = which hash, field,
# amount), then m and m connections no longer blocked, then (connection, until) pairs.
_ADD = """
local n = tonumber(ARGV[1])
local i = 2
for _ = 1, n do
  redis.call('HINCRBYFLOAT', KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2])
  i = i + 3
end
local m = tonumber(ARGV[i])
i = i + 1
for _ = 1, m do
  redis.call('HDEL', KEYS[3], ARGV[i])
  i = i + 1
end
while i < #ARGV do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
return n
"""


class Recorder:
    """What one process counted since its last flush, written to Redis in one command.

    Thread-safe (a worker's threads share it). After a fork the child starts empty, so what the
    parent counted is written once, by the parent."""

    def __init__(self, client: redis.Redis, flush_every: float = FLUSH_EVERY_SECONDS) -> None:
        self.flush_every = flush_every
        self._add = client.register_script(_ADD)
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._sums: defaultdict[str, float] = defaultdict(float)
        self._hist: Counter[str] = Counter()
        self._hist_sums: defaultdict[str, float] = defaultdict(float)
        self._blocked: dict[str, float] = {}
        self._unblocked: set[str] = set()
        self._last_flush = time.monotonic()

    def _guard(self) -> None:
        if self._pid != os.getpid():
            self._reset()

    # --- what is recorded ------------------------------------------------------------------
    def erp_call(self, connection: str, method: str, path: str, status: int | None) -> None:
        """One HTTP request to an ERP (called by the client's observer hook)."""
        name = field_name(
            ERP_REQUESTS, connection, endpoint_template(method, path), status_class(status)
        )
        with self._locked():
            self._counts[name] += 1
            if status == 429:
                self._counts[field_name(ERP_RATE_LIMITED, connection)] += 1
        self._maybe_flush()

    def budget_wait(self, connection: str, seconds: float) -> None:
        """A request waited for a slot of the shared budget (in place, or gave up waiting)."""
        with self._locked():
            self._counts[field_name(BUDGET_WAITS, connection)] += 1
            self._sums[field_name(BUDGET_WAIT_SECONDS, connection)] += seconds
        self._maybe_flush()

    def step_ran(self, connection: str, step: str, seconds: float) -> None:
        with self._locked():
            self._hist[field_name(STEP_RUNTIME, connection, step, bucket_of(seconds))] += 1
            self._hist_sums[field_name(STEP_RUNTIME, connection, step, "sum")] += seconds

    def count(self, name: str) -> None:
        """A counter field (see `field_name`) that no store pipeline carried."""
        with self._locked():
            self._counts[name] += 1

    def blocked(self, connection: str, until: float) -> None:
        with self._locked():
            self._blocked[connection] = max(until, self._blocked.get(connection, 0.0))
            self._unblocked.discard(connection)

    def unblocked(self, connection: str) -> None:
        """A step of the connection succeeded: whatever blocked it holds no more."""
        with self._locked():
            self._blocked.pop(connection, None)
            self._unblocked.add(connection)

    # --- writing ---------------------------------------------------------------------------
    def _locked(self) -> threading.Lock:
        self._guard()
        return self._lock

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Write what was counted in one command. A failure loses these counts, never the
        caller's work (metrics are not worth failing a step for)."""
        with self._locked():
            counts, sums, hist, hist_sums = self._counts, self._sums, self._hist, self._hist_sums
            blocked, unblocked = self._blocked, self._unblocked
            self._counts, self._hist = Counter(), Counter()
            self._sums, self._hist_sums = defaultdict(float), defaultdict(float)
            self._blocked, self._unblocked = {}, set()
            self._last_flush = time.monotonic()
        if not (counts or sums or hist or hist_sums or blocked or unblocked):
            return
        args: list[str | float] = []
        for key, values in ((1, counts), (1, sums), (2, hist), (2, hist_sums)):
            for name, amount in values.items():
                args += [key, name, amount]
        args = [len(args) // 3, *args, len(unblocked), *unblocked]
        for connection, until in blocked.items():
            args += [connection, until]
        try:
            self._add(keys=[COUNTS_KEY, HIST_KEY, BLOCKED_KEY], args=args)
        except redis.exceptions.RedisError as exc:
            log.warning("metrics.flush_failed", error=type(exc).__name__)


# --- reading (at scrape time) -----------------------------------------------------------------
Labels = tuple[str, ...]


@dataclass
class Histogram:
    buckets: dict[str, int] = field(default_factory=dict)  # le -> count (not cumulative)
    sum: float = 0.0


@dataclass
class Snapshot:
    """Everything `/metrics` shows, read from Redis in a few round trips."""

    counters: dict[str, dict[Labels, float]]  # family -> labels -> value
    histograms: dict[Labels, Histogram]  # (connection, step) -> step run times
    stats: dict[str, int]  # the store's plain counters (older names)
    dead_letters: dict[str, int]  # connection -> letters waiting
    dead_letters_total: int
    oldest_job_age: dict[str, float]  # connection -> seconds
    jobs_in_flight: int
    blocked_until: dict[str, float]  # connection -> epoch seconds
    workers_alive: int


def read_snapshot(
    client: redis.Redis, now: float | None = None, cache: FactCache | None = None
) -> Snapshot:
    """One scrape's worth of Redis. Pass the same `cache` to every scrape of a process so that
    only new jobs and dead letters are read (without one, each scrape reads them all)."""
    now = time.time() if now is None else now
    cache = cache or FactCache()
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(STATS_KEY)
    pipe.hgetall(COUNTS_KEY)
    pipe.hgetall(HIST_KEY)
    pipe.hgetall(BLOCKED_KEY)
    pipe.zcard(DLQ_KEY)
    pipe.zcard(DUE_KEY)
    pipe.zrange(DLQ_KEY, 0, SCAN_LIMIT - 1)
    pipe.zrange(DUE_KEY, 0, SCAN_LIMIT - 1)
    stats, counts, hist, blocked, dlq_total, due_total, letters, due = cast(
        "list[object]", pipe.execute()
    )
    counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
    plain: dict[str, int] = {}
    for raw in (cast("dict[str, str]", stats), cast("dict[str, str]", counts)):
        for name, value in raw.items():
            parsed = parse_field(name)
            if parsed is None:
                plain[name] = int(float(value))
            else:
                counters[parsed[0]][parsed[1]] += float(value)
    return Snapshot(
        counters={k: dict(v) for k, v in counters.items()},
        histograms=_histograms(cast("dict[str, str]", hist)),
        stats=plain,
        dead_letters=_dead_letters(
            cache.facts(client, DEAD_LETTERS, cast("list[str]", letters), dated=False)
        ),
        dead_letters_total=cast(int, dlq_total),
        oldest_job_age=_oldest(cache.facts(client, JOBS, cast("list[str]", due)), now),
        jobs_in_flight=cast(int, due_total),
        blocked_until=parse_blocked(cast("dict[str, str]", blocked)),
        workers_alive=sum(1 for _ in client.scan_iter(WORKER_PATTERN, count=500)),
    )


def blocked_until(client: redis.Redis) -> dict[str, float]:
    """The record of blocked connections: connection -> blocked until (epoch seconds)."""
    return parse_blocked(cast("dict[str, str]", client.hgetall(BLOCKED_KEY)))


def parse_blocked(raw: dict[str, str]) -> dict[str, float]:
    """`BLOCKED_KEY` as read from Redis, its times as numbers."""
    return {connection: float(until) for connection, until in raw.items()}


def _histograms(raw: dict[str, str]) -> dict[Labels, Histogram]:
    found: dict[Labels, Histogram] = defaultdict(Histogram)
    for name, value in raw.items():
        parsed = parse_field(name)
        if parsed is None or parsed[0] != STEP_RUNTIME or len(parsed[1]) != 3:
            continue
        connection, step, le = parsed[1]
        if le == "sum":
            found[(connection, step)].sum += float(value)
        else:
            bucket = bucket_of(float(le))  # a bound we no longer use joins the next one up
            histogram = found[(connection, step)]
            histogram.buckets[bucket] = histogram.buckets.get(bucket, 0) + int(value)
    return dict(found)


_CONNECTION = re.compile(r'"connection"\s*:\s*"((?:[^"\\]|\\.)*)"')
_CREATED_AT = re.compile(r'"created_at"\s*:\s*"([^"]+)"')
Facts = tuple[str, float]  # a record's connection and creation time (0 when not asked for)


class FactCache:
    """What scrapes learnt about records (jobs, dead letters) by id, so that each scrape reads
    only the records that are new since the one before. Ids are random and a record's connection
    and creation time never change, so an entry is never stale; entries whose record left the
    index are dropped."""

    def __init__(self) -> None:
        self._known: dict[str, dict[str, Facts | None]] = defaultdict(dict)
        self._lock = threading.Lock()

    def facts(
        self, client: redis.Redis, kind: Family, ids: list[str], dated: bool = True
    ) -> list[Facts]:
        with self._lock:
            known = self._known[kind.name]
            missing = [i for i in ids if i not in known]
            known.update(_read_facts(client, kind, missing, dated))
            self._known[kind.name] = known = {i: known[i] for i in ids if i in known}
            return [f for f in known.values() if f is not None]


def _read_facts(
    client: redis.Redis, kind: Family, ids: list[str], dated: bool = True
) -> dict[str, Facts | None]:
    """Connection (and, if `dated`, creation time) of each record `ob:{kind}:{id}`, from its
    first bytes (a record whose head lacks them is read whole); None for one that is unreadable.
    A pipeline, not a script: a thousand small reads never hold Redis for long."""
    found: dict[str, Facts | None] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        pipe = client.pipeline(transaction=False)
        for record_id in chunk:  # raw bytes: the cut may fall inside a multi-byte character
            pipe.execute_command(  # type: ignore[no-untyped-call]
                "GETRANGE", kind.key(record_id), 0, HEAD_BYTES - 1, **{NEVER_DECODE: True}
            )
        for record_id, raw in zip(chunk, cast("list[bytes]", pipe.execute()), strict=True):
            head = raw.decode("utf-8", errors="ignore")
            facts = _facts(head, dated)
            if facts is None and len(raw) >= HEAD_BYTES:
                facts = _facts(cast("str", client.get(kind.key(record_id)) or ""), dated)
            if raw:
                found[record_id] = facts
    return found


def _facts(text: str, dated: bool) -> Facts | None:
    connection = _CONNECTION.search(text)
    created = _CREATED_AT.search(text) if dated else None
    if connection is None or (dated and created is None):
        return None
    try:
        at = (
            datetime.fromisoformat(created.group(1).replace("Z", "+00:00")).timestamp()
            if created
            else 0.0
        )
    except ValueError:
        return None
    return json.loads(f'"{connection.group(1)}"'), at


def _dead_letters(facts: list[Facts]) -> dict[str, int]:
    return dict(Counter(connection for connection, _ in facts))


def _oldest(facts: list[Facts], now: float) -> dict[str, float]:
    """Per connection, the age of its oldest unfinished job (every such job is on `ob:due`)."""
    oldest: dict[str, float] = {}
    for connection, at in facts:
        oldest[connection] = min(oldest.get(connection, at), at)
    return {c: max(0.0, now - at) for c, at in oldest.items()}
