"""Admission: which ready jobs go to the workers now, paced by each ERP's budget, fair between
connections.

Why: with one FIFO broker queue, a burst of 1,500 orders at one shop stood before every other
shop's orders, each message holding a worker thread while it waited for its ERP's budget. Here a
job that is ready to run waits in Redis, in its connection's *wait set*, oldest first (urgent
ones before the rest), and is handed to the broker only when
- its connection's budget group (the connections sharing one ERP budget key) has fewer jobs in
  flight than that budget can keep busy: `in_flight_cap`, derived from the budget's requests per
  second (a per-connection `max_in_flight` may lower it);
- the budget is not paused (a 429 or the ERP's own rate headers) and its daily quota not used up;
- its ERP is not in an outage (a breaker, opened by 5xx/connection failures in a row while the
  ERP has answered nothing for a few seconds, lets one probe job through at a time until the
  ERP answers again: recovery without a stampede);
- all workers together have a free thread (the live workers register their concurrency);
- and it is the connection's turn: start-time fair queueing on a virtual clock, each admission
  charged the connection's ERP calls per delivery (a moving average) divided by its `weight`, so
  connections share threads, and connections on one budget share its calls, whatever their
  backlogs.
A whole round is one Lua script, so any number of dispatchers (one thread per worker process)
can run it at once without admitting a job twice. Admitting a job also puts it on the
due-schedule at "now + stale" and records when its message goes out, exactly as a publish did
before: a dispatcher that dies before publishing costs `stale_after`, as any lost message does.

Keys (this module owns the `ob:adm:*` family):
- `ob:adm:wait:{connection}`  zset job id -> arrival time (minus `URGENT_SHIFT` when urgent)
- `ob:adm:step:{connection}`  hash job id -> "step<US>reference" (what to publish)
- `ob:adm:flight:{connection}` zset job id -> time its slot lapses if nobody releases it
  (`stale_after` while queued; a few seconds while running, renewed by its worker's `hold`)
- `ob:adm:vt`                 hash connection -> virtual time; `_sys` -> the clock itself
- `ob:adm:cost`               hash connection -> ERP calls per delivery (moving average)
- `ob:adm:health:{connection}` hash failures, last_ok, opened, open_until (the outage breaker)
- `ob:adm:workers`            zset worker id -> alive until; `ob:adm:capacity` hash -> threads
- `ob:adm:kick`               list (at most 10 long): a nudge that wakes the dispatchers
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import redis

from core.keyspace import Family
from core.store import DUE, HANDOFF_SEP, SENT, WaitEntry

URGENT_SHIFT = 1e10  # urgent jobs score below every arrival time: they go first
OUTAGE_THRESHOLD = 3  # outage failures in a row that open a connection's breaker ...
OUTAGE_QUIET_SECONDS = 5.0  # ... when the ERP has answered nothing for this long
PROBE_BACKOFF_CAP_SECONDS = 15.0
CALL_SECONDS = 0.5  # a generous ERP call time: the budget's rate times this is kept busy
DEFAULT_COST = 4.0  # calls per delivery assumed before any was measured
HEADROOM = 0.25  # admitted beyond the free threads, so a finishing thread finds work queued
# A running job's slot lapses this soon unless its worker holds it again (every second or so):
# a worker killed outright gives its slots back within seconds, not after `stale_after`.
RUNNING_LAPSE_SECONDS = 5.0
WORKER_TTL_SECONDS = 5.0  # a worker's threads count for admission while it says so


ADMISSION = Family("adm", "the keys listed in this module's docstring")


def key(*parts: str) -> str:
    return ADMISSION.key(*parts)


def wait_key(connection: str) -> str:
    return key("wait", connection)


def step_key(connection: str) -> str:
    return key("step", connection)


def flight_key(connection: str) -> str:
    return key("flight", connection)


def health_key(connection: str) -> str:
    return key("health", connection)


KICK = key("kick")
VT = key("vt")
COST = key("cost")
WORKERS = key("workers")
CAPACITY = key("capacity")


def score(arrived_at: float, urgent: bool) -> float:
    """A job's place in its connection's wait set: oldest first, urgent ones before all."""
    return arrived_at - URGENT_SHIFT if urgent else arrived_at


# KEYS: wait, step, flight, due, sent, kick. ARGV: job id, score, label, due at.
# Waiting is not being in flight; the job stays on the due-schedule far ahead (a safety net).
SUBMIT = """
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('LPUSH', KEYS[6], '1')
redis.call('LTRIM', KEYS[6], 0, 9)
return 1
"""

# The end of a delivery: free the job's slot (if it held one), learn the calls it made, and when
# the ERP answered its last call close the connection's breaker. KEYS: flight, cost, health, kick.
# ARGV: job id, connection, calls made (-1: unknown), '1' when the ERP answered the last call.
DONE = """
local freed = redis.call('ZREM', KEYS[1], ARGV[1])
local calls = tonumber(ARGV[3])
if calls >= 0 then
  local old = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '-1')
  local new = calls
  if old >= 0 then new = old * 0.8 + calls * 0.2 end
  redis.call('HSET', KEYS[2], ARGV[2], tostring(new))
end
if ARGV[4] == '1' then
  local t = redis.call('TIME')
  redis.call('DEL', KEYS[3])
  redis.call('HSET', KEYS[3], 'last_ok', tonumber(t[1]))
  redis.call('EXPIRE', KEYS[3], 86400)
end
if freed == 1 then
  redis.call('LPUSH', KEYS[4], '1')
  redis.call('LTRIM', KEYS[4], 0, 9)
end
return freed
"""

# An outage failure (5xx, no answer): count it. The breaker opens (for a doubling pause) only
# when the failures reach the threshold AND the ERP has answered nothing for `quiet` seconds:
# an ERP that fails one call in ten is not down, its retries back off on their own.
# KEYS: health. ARGV: threshold, cap seconds, now, quiet seconds. Returns 1 when open.
OUTAGE = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('EXPIRE', KEYS[1], 86400)
local now = tonumber(ARGV[3])
local open_until = redis.call('HGET', KEYS[1], 'open_until')
if not open_until then
  local last_ok = tonumber(redis.call('HGET', KEYS[1], 'last_ok') or '0')
  if failures < tonumber(ARGV[1]) or now - last_ok < tonumber(ARGV[4]) then return 0 end
  redis.call('HSET', KEYS[1], 'opened', failures)
end
local opened = tonumber(redis.call('HGET', KEYS[1], 'opened') or failures)
local pause = math.min(tonumber(ARGV[2]), 2 ^ (failures - opened))
redis.call('HSET', KEYS[1], 'open_until', now + pause)
return 1
"""

# One admission round. KEYS: vt, cost, workers, capacity, due, sent, then per connection six:
# wait, step, flight, health, budget pause, budget day. ARGV: now, stale seconds, own threads,
# headroom, default cost, n, then per connection five: name, weight, group, cap,
# day limit. ARGV[1] is the most to admit. Returns {now, connection index, job id, label, ...}.
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local now_ms = math.floor(now * 1000)
local stale = tonumber(ARGV[2])
local n = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local live = redis.call('ZRANGE', KEYS[3], 0, -1)
local threads = 0
if #live > 0 then
  for _, c in ipairs(redis.call('HMGET', KEYS[4], unpack(live))) do
    threads = threads + (tonumber(c) or 0)
  end
end
threads = math.max(threads, tonumber(ARGV[3]))
local limit = threads + math.max(1, math.ceil(threads * tonumber(ARGV[4])))
local conns = {}
local group_flight = {}
local total = 0
for i = 1, n do
  local k = 6 + (i - 1) * 6
  local a = 7 + (i - 1) * 5
  local c = {name = ARGV[a], weight = tonumber(ARGV[a + 1]), group = ARGV[a + 2],
             cap = tonumber(ARGV[a + 3]), day_limit = tonumber(ARGV[a + 4]), k = k}
  redis.call('ZREMRANGEBYSCORE', KEYS[k + 3], '-inf', now)
  c.flight = redis.call('ZCARD', KEYS[k + 3])
  total = total + c.flight
  group_flight[c.group] = (group_flight[c.group] or 0) + c.flight
  c.waiting = redis.call('ZCARD', KEYS[k + 1])
  if c.waiting > 0 then
    local ok = true
    local paused = tonumber(redis.call('GET', KEYS[k + 5]) or '0')
    if paused > now_ms then ok = false end
    if ok and c.day_limit > 0 then
      local day = redis.call('HMGET', KEYS[k + 6], 'used', 'reset')
      if tonumber(day[2] or '0') > now_ms and tonumber(day[1] or '0') >= c.day_limit then
        ok = false
      end
    end
    if ok then
      local open_until = redis.call('HGET', KEYS[k + 4], 'open_until')
      if open_until then
        if tonumber(open_until) > now or c.flight > 0 then ok = false
        else c.probe = true end
      end
    end
    c.ok = ok
    local vt = tonumber(redis.call('HGET', KEYS[1], c.name) or '0')
    c.vt = vt
    c.cost = tonumber(redis.call('HGET', KEYS[2], c.name) or '-1')
  end
  conns[i] = c
end
local sys = tonumber(redis.call('HGET', KEYS[1], '_sys') or '0')
local default_cost = tonumber(ARGV[5])
local out = {tostring(now)}
local budget = math.min(limit - total, tonumber(ARGV[1]))
while budget > 0 do
  local best, best_start = nil, nil
  for i = 1, n do
    local c = conns[i]
    if c.ok and c.waiting > 0 then
      if c.urgent == nil then
        local head = redis.call('ZRANGE', KEYS[c.k + 1], 0, 0, 'WITHSCORES')
        c.urgent = tonumber(head[2]) < 0
      end
      local cap = c.cap
      if c.urgent then cap = cap + 2 end
      if group_flight[c.group] < cap then
        local start = math.max(c.vt, sys)
        if best == nil or start < best_start then best, best_start = i, start end
      end
    end
  end
  if best == nil then break end
  local c = conns[best]
  local popped = redis.call('ZPOPMIN', KEYS[c.k + 1])
  local id = popped[1]
  c.urgent = nil
  local label = redis.call('HGET', KEYS[c.k + 2], id) or ''
  redis.call('HDEL', KEYS[c.k + 2], id)
  redis.call('ZADD', KEYS[c.k + 3], now + stale, id)
  redis.call('ZADD', KEYS[5], now + stale, id)
  redis.call('HSET', KEYS[6], id, tostring(now))
  c.waiting = c.waiting - 1
  c.flight = c.flight + 1
  group_flight[c.group] = group_flight[c.group] + 1
  local cost = c.cost
  if cost == nil or cost < 0 then cost = default_cost end
  c.vt = best_start + math.max(cost, 0.1) / c.weight
  sys = best_start
  redis.call('HSET', KEYS[1], c.name, tostring(c.vt))
  if c.probe then
    c.ok = false
    redis.call('HSET', KEYS[c.k + 4], 'open_until', now + stale)
  end
  out[#out + 1] = best
  out[#out + 1] = id
  out[#out + 1] = label
  budget = budget - 1
end
redis.call('HSET', KEYS[1], '_sys', tostring(sys))
return out
"""


@dataclass(frozen=True)
class Lane:
    """One connection as admission sees it: its weight, its budget group and what that group
    may have in flight."""

    connection: str
    weight: float
    group: str  # the budget key: connections sharing it share its calls
    cap: int
    pause_key: str
    day_key: str
    day_limit: int


@dataclass(frozen=True)
class Admitted:
    connection: str
    job_id: str
    step: str
    reference: str
    sent_at: float  # Redis's clock, as written to the sent-times hash (see tasks.sweeper)


def in_flight_cap(limit: int, window_seconds: float, max_in_flight: int | None = None) -> int:
    """How many of a budget group's jobs may be in flight: enough to keep its budget busy when
    each ERP call takes up to `CALL_SECONDS`, plus one to bridge a job's own work between calls.
    A job beyond that would only wait for the budget, holding a thread."""
    rate = limit / max(window_seconds, 0.001)
    cap = math.ceil(rate * CALL_SECONDS) + 1
    return max(1, min(cap, max_in_flight)) if max_in_flight else max(1, cap)


class Admission:
    """The wait sets, the slots in flight, the breaker and the fair clock (see module doc)."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._submit = client.register_script(SUBMIT)
        self._done = client.register_script(DONE)
        self._outage = client.register_script(OUTAGE)
        self._admit = client.register_script(ADMIT)

    # --- entering and leaving -----------------------------------------------------------------
    def submit(
        self,
        connection: str,
        job_id: str,
        step: str,
        reference: str,
        arrived_at: float,
        urgent: bool,
        recheck_at: float,
    ) -> None:
        """The job is ready to run: into its connection's wait set (out of flight, if it was).
        Its due-schedule entry moves to `recheck_at`, a safety net: nothing is lost while it
        waits here, the sweeper only checks it is still here then."""
        self._submit(
            keys=[
                wait_key(connection),
                step_key(connection),
                flight_key(connection),
                DUE.key(),
                SENT.key(),
                KICK,
            ],
            args=[job_id, score(arrived_at, urgent), label(step, reference), recheck_at],
        )

    def entry(
        self, connection: str, step: str, reference: str, arrived_at: float, urgent: bool
    ) -> WaitEntry:
        """A new job's place in the wait set, written by the script that creates the job."""
        return WaitEntry(
            (wait_key(connection), step_key(connection), KICK),
            score(arrived_at, urgent),
            label(step, reference),
        )

    def done(self, connection: str, job_id: str, calls: int | None, erp_answered: bool) -> bool:
        """A delivery of the job ended with nothing more to send: free its slot, learn the ERP
        calls it made, and (the ERP answered its last call) close the connection's breaker."""
        return bool(
            self._done(
                keys=[flight_key(connection), COST, health_key(connection), KICK],
                args=[
                    job_id,
                    connection,
                    -1 if calls is None else calls,
                    "1" if erp_answered else "0",
                ],
            )
        )

    def outage(self, connection: str) -> bool:
        """The ERP failed as in an outage (5xx, no answer); True when the breaker is open now,
        so the caller parks the job in the wait set instead of a backoff of its own."""
        return bool(
            self._outage(
                keys=[health_key(connection)],
                args=[
                    OUTAGE_THRESHOLD,
                    PROBE_BACKOFF_CAP_SECONDS,
                    time.time(),
                    OUTAGE_QUIET_SECONDS,
                ],
            )
        )

    def hold(self, running: list[tuple[str, str]]) -> None:
        """Keep the slots of the jobs this worker is running, (connection, job id) each, for
        `RUNNING_LAPSE_SECONDS` more (a slot already given back stays given back)."""
        if not running:
            return
        until = time.time() + RUNNING_LAPSE_SECONDS
        pipe = self.redis.pipeline(transaction=False)
        for connection, job_id in running:
            pipe.zadd(flight_key(connection), {job_id: until}, xx=True)
        pipe.execute()

    def is_waiting(self, connection: str, job_id: str) -> bool:
        return self.redis.zscore(wait_key(connection), job_id) is not None

    def is_in_flight(self, connection: str, job_id: str) -> bool:
        return self.redis.zscore(flight_key(connection), job_id) is not None

    # --- the dispatcher's round -----------------------------------------------------------------
    def admit(
        self, lanes: list[Lane], stale_seconds: float, own_threads: int, most: int = 200
    ) -> list[Admitted]:
        """Take the jobs that may go to the workers now, fairly, in one atomic round."""
        if not lanes:
            return []
        keys = [VT, COST, WORKERS, CAPACITY, DUE.key(), SENT.key()]
        args: list[str | float | int] = [
            most,
            stale_seconds,
            own_threads,
            HEADROOM,
            DEFAULT_COST,
            len(lanes),
        ]
        for lane in lanes:
            c = lane.connection
            keys += [
                wait_key(c),
                step_key(c),
                flight_key(c),
                health_key(c),
                lane.pause_key,
                lane.day_key,
            ]
            args += [c, max(lane.weight, 0.01), lane.group, lane.cap, lane.day_limit]
        reply = cast("list[str | int]", self._admit(keys=keys, args=args))
        at = float(reply[0])
        admitted = []
        for i in range(1, len(reply), 3):
            lane = lanes[int(reply[i]) - 1]
            step, _, reference = str(reply[i + 2]).partition(HANDOFF_SEP)
            admitted.append(Admitted(lane.connection, str(reply[i + 1]), step, reference, at))
        return admitted

    def wait_for_kick(self, seconds: float) -> bool:
        """Block until something was submitted or freed (or `seconds` pass); clears the nudge."""
        got = self.redis.brpop([KICK], timeout=seconds)
        if got is not None:
            self.redis.delete(KICK)
        return got is not None

    # --- the workers' threads -----------------------------------------------------------------
    def register_worker(
        self, worker_id: str, threads: int, ttl_seconds: float = WORKER_TTL_SECONDS
    ) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(WORKERS, {worker_id: time.time() + ttl_seconds})
        pipe.hset(CAPACITY, worker_id, str(threads))
        pipe.execute()

    def unregister_worker(self, worker_id: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(WORKERS, worker_id)
        pipe.hdel(CAPACITY, worker_id)
        pipe.execute()

    # --- what the operator sees -----------------------------------------------------------------
    def figures(self, connections: Iterable[str]) -> dict[str, Waiting]:
        names = list(connections)
        if not names:
            return {}
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        for c in names:
            pipe.zcard(wait_key(c))
            pipe.zcount(wait_key(c), "-inf", 0)
            pipe.zcount(flight_key(c), now, "+inf")
            pipe.hget(health_key(c), "open_until")
        pipe.hmget(COST, names)
        replies = pipe.execute()
        costs = cast("list[str | None]", replies[-1])
        out = {}
        for i, c in enumerate(names):
            waiting, urgent, flight, open_until = replies[i * 4 : i * 4 + 4]
            out[c] = Waiting(
                waiting=int(waiting),
                urgent=int(urgent),
                in_flight=int(flight),
                calls_per_job=_float(costs[i]),
                outage=open_until is not None,
            )
        return out


@dataclass(frozen=True)
class Waiting:
    """A connection's jobs waiting for admission and in flight, for the status page and CLI."""

    waiting: int
    urgent: int
    in_flight: int
    calls_per_job: float | None
    outage: bool = False

    def eta_seconds(self, requests_per_second: float) -> float | None:
        """How long the waiting jobs need at the budget's rate (None: nothing waits)."""
        if not self.waiting or requests_per_second <= 0:
            return None
        calls = self.calls_per_job if self.calls_per_job is not None else DEFAULT_COST
        return self.waiting * max(calls, 0.1) / requests_per_second


def _float(raw: str | None) -> float | None:
    return float(raw) if raw else None


def label(step: str, reference: str) -> str:
    return f"{step}{HANDOFF_SEP}{reference}"


def describe_eta(waiting: Waiting, requests_per_second: float) -> str:
    """'1,212 waiting, about 7 min at 10 requests/s' (or '' when nothing waits)."""
    eta = waiting.eta_seconds(requests_per_second)
    if eta is None:
        return ""
    rate = f"{requests_per_second:.3g} requests/s"
    if eta < 90:
        about = f"about {max(1, round(eta))} s"
    elif eta < 5400:
        about = f"about {round(eta / 60)} min"
    else:
        about = f"about {eta / 3600:.1f} h"
    text = f"{waiting.waiting:,} waiting, {about} at {rate}"
    if waiting.outage:
        text += " (ERP outage: one probe at a time until it answers)"
    return text
