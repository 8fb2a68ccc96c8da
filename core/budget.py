"""A request budget shared by every worker process, kept in Redis and fed by the ERP's headers.

Celery's `rate_limit` counts per worker process, so with four processes a "10/s" limit becomes
40/s at the ERP. Here every outgoing request first takes a slot in a Redis sliding window named
after what the ERP actually limits (PowerOffice: 10/s per subscription key; Exact: 60/min and
5,000/day per division). The ERP's own answers correct it: a 429, a Retry-After, or
`X-RateLimit-*` headers saying a window is used up pause the whole budget until the reset they
name, and the daily remainder the ERP reports replaces our own count.
Long waits are not done in place: past `max_wait` the caller gets `RateLimited` and the step is
rescheduled for when the budget resets, without counting as a failed attempt.
Each request that had to wait is reported to `on_waited` (seconds waited), for the metrics.
Urgent jobs (a POS sale printed at the counter) go first: an urgent caller's try, taken or not,
holds the others off for `URGENT_HOLD_MS`, so the next free slot is its; a busy budget's
backlog never stands before an urgent order.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import redis

from connectors.errors import RateLimited, retry_after_seconds

URGENT_HOLD_MS = 400  # bridges an urgent job's own work between two calls
URGENT_YIELD_MS = 50  # how long the others step back before they look again
QUEUE_POLL_MS = 20  # a waiter behind older ones looks again this soon
WAITER_GONE_MS = 2500  # a waiter not heard of this long has given up (or died)

# First come, first served: a caller that has to wait takes a ticket (its first try's time; 0 for
# urgent ones) in the waiters' queue, and a free slot goes to the oldest tickets, not to whoever
# polls first. Without it, a job could lose the race for slots again and again while newer jobs
# took them, and a backlog would not drain in order. Waiters refresh their place as they poll;
# one not heard of for WAITER_GONE_MS is dropped.
# KEYS: window zset, pause key, day counter, urgent hold, waiters (by ticket), waiters (by poll).
# ARGV: window ms, limit, ticket, day limit, '1' when urgent, hold ms, yield ms, ticket time,
#       poll ms, gone ms.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function queue(wait)
  redis.call('ZADD', KEYS[5], 'NX', ARGV[8], ARGV[3])
  redis.call('ZADD', KEYS[6], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[5], 60000)
  redis.call('PEXPIRE', KEYS[6], 60000)
  return wait
end
local gone = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now - tonumber(ARGV[10]))
if #gone > 0 then
  redis.call('ZREM', KEYS[5], unpack(gone))
  redis.call('ZREM', KEYS[6], unpack(gone))
end
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return queue(paused - now) end
if ARGV[5] == '1' then
  redis.call('SET', KEYS[4], '1', 'PX', ARGV[6])
elseif redis.call('EXISTS', KEYS[4]) == 1 then
  return queue(tonumber(ARGV[7]))
end
local day_limit = tonumber(ARGV[4])
if day_limit > 0 then
  local used = tonumber(redis.call('HGET', KEYS[3], 'used') or '0')
  local reset = tonumber(redis.call('HGET', KEYS[3], 'reset') or '0')
  if reset <= now then
    used = 0
    reset = (math.floor(now / 86400000) + 1) * 86400000
    redis.call('HSET', KEYS[3], 'used', 0, 'reset', reset)
  end
  if used >= day_limit then return queue(reset - now) end
end
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local free = limit - redis.call('ZCARD', KEYS[1])
if free > 0 then
  local ahead = redis.call('ZCOUNT', KEYS[5], '-inf', '(' .. ARGV[8])
  if ahead >= free then return queue(tonumber(ARGV[9])) end
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  redis.call('ZREM', KEYS[5], ARGV[3])
  redis.call('ZREM', KEYS[6], ARGV[3])
  if day_limit > 0 then redis.call('HINCRBY', KEYS[3], 'used', 1) end
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return queue(math.max(1, tonumber(oldest[2]) + window - now))
"""

# Pause the budget until a moment (a 429's Retry-After), never shortening a longer pause.
# KEYS: pause key. ARGV: until (ms).
_PAUSE_UNTIL = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ms = tonumber(ARGV[1])
if until_ms > current then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if until_ms > now then redis.call('SET', KEYS[1], until_ms, 'PX', until_ms - now + 1000) end
end
return until_ms
"""


def budget_keys(key: str) -> tuple[str, str, str, str, str, str]:
    """The keys of the budget named `key`: its window, pause, day counter, urgent hold and
    waiters' queue (by ticket, by last poll). Admission and the status page read some too."""
    return (key, f"{key}:pause", f"{key}:day", f"{key}:urgent", f"{key}:waiters", f"{key}:polled")


def now_ms() -> int:
    return int(time.time() * 1000)


class RequestBudget:
    """`limit` requests per `window_seconds` (and optionally `day_limit` per UTC day), shared by
    all processes that use the same `key` (the store's key for the ERP's rate key)."""

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        limit: int,
        window_seconds: float = 1.0,
        day_limit: int = 0,
        max_wait: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
        on_waited: Callable[[float], None] | None = None,
        urgent: Callable[[], bool] | None = None,
    ) -> None:
        self.limit = max(1, int(limit))
        self.window_ms = int(window_seconds * 1000)
        self.day_limit = max(0, int(day_limit))
        self.max_wait = max_wait
        self.redis = client
        self._keys = list(budget_keys(key))
        self._urgent = urgent
        self._take = client.register_script(_TAKE)
        self._pause_until = client.register_script(_PAUSE_UNTIL)
        self._sleep = sleep
        self._on_waited = on_waited

    def try_take(self, ticket: str | None = None, since_ms: int | None = None) -> float:
        """Take one slot if free and no older waiter is owed it; else return the seconds until
        one may be. `ticket` and `since_ms` (the first try's time) keep a waiter's place in
        line across tries; urgent callers stand first."""
        urgent = self._urgent is not None and self._urgent()
        wait_ms = self._take(
            keys=self._keys,
            args=[
                self.window_ms,
                self.limit,
                ticket or uuid.uuid4().hex,
                self.day_limit,
                "1" if urgent else "0",
                URGENT_HOLD_MS,
                URGENT_YIELD_MS,
                0 if urgent else (since_ms if since_ms is not None else now_ms()),
                QUEUE_POLL_MS,
                WAITER_GONE_MS,
            ],
        )
        return int(wait_ms) / 1000.0

    def take(self, on_wait: Callable[[], None] | None = None) -> None:
        """Block until a slot is ours, or raise RateLimited when that would take too long."""
        waited = 0.0
        ticket, since = uuid.uuid4().hex, now_ms()
        while True:
            wait = self.try_take(ticket, since)
            if wait <= 0:
                if waited and self._on_waited:
                    self._on_waited(waited)
                return
            if waited + wait > self.max_wait:
                if self._on_waited:
                    self._on_waited(waited)
                raise RateLimited(
                    f"request budget used up; next slot in {wait:.1f}s", retry_after=wait
                )
            if on_wait:
                on_wait()
            self._sleep(min(wait, 1.0))
            waited += min(wait, 1.0)

    def pause(self, seconds: float) -> None:
        """Stop every worker from calling this ERP key for `seconds`."""
        self.pause_until_ms(now_ms() + max(1, int(seconds * 1000)))

    def pause_until_ms(self, until_ms: int) -> None:
        self._pause_until(keys=[self._keys[1]], args=[int(until_ms)])

    def observe(self, response: httpx.Response) -> None:
        """Learn from the ERP's answer: 429s, Retry-After and `X-RateLimit-*` headers."""
        headers = response.headers
        minutely_left = _int(headers.get("X-RateLimit-Minutely-Remaining"))
        minutely_reset = _int(headers.get("X-RateLimit-Minutely-Reset"))
        daily_left = _int(headers.get("X-RateLimit-Remaining"))
        daily_reset = _int(headers.get("X-RateLimit-Reset"))
        if daily_left is not None and daily_reset is not None and self.day_limit:
            used = max(0, self.day_limit - daily_left)
            self.redis.hset(self._keys[2], mapping={"used": used, "reset": daily_reset})
        if minutely_left == 0 and minutely_reset:
            self.pause_until_ms(minutely_reset)
        if daily_left == 0 and daily_reset:
            self.pause_until_ms(daily_reset)
        if response.status_code == 429:
            resets = [r for r in (minutely_reset, daily_reset) if r]
            if resets:
                self.pause_until_ms(max(resets))
            else:
                self.pause(retry_after_seconds(response) or 1.0)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
