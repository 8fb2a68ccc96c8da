"""A request budget shared by every worker process, kept in Redis.

Celery's `rate_limit` counts per worker process, so with four processes a "10/s" limit becomes
40/s at the ERP. Here every outgoing request first takes a slot in a Redis sliding window named
after what the ERP actually limits (PowerOffice: the subscription key). A 429's Retry-After
pauses the whole budget, so one throttled answer slows every worker, not just the one that saw it.
Long waits are not done in place: past `max_wait` the caller gets a TransientError and the step
is rescheduled, so no message is held longer than the broker's visibility timeout.
"""

from __future__ import annotations

import time
import uuid
from typing import Callable

import redis

from connectors.errors import TransientError

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return paused - now end
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then
  redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]) + 1000)
end
return until_ms
"""


class RequestBudget:
    """`limit` requests per `window_seconds`, across all processes, for one ERP rate key."""

    def __init__(self, client: redis.Redis, name: str, limit: int, window_seconds: float = 1.0,
                 max_wait: float = 20.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.limit = max(1, int(limit))
        self.window_ms = int(window_seconds * 1000)
        self.max_wait = max_wait
        self._keys = [f"ob:budget:{name}", f"ob:budget:{name}:pause"]
        self._take = client.register_script(_TAKE)
        self._pause = client.register_script(_PAUSE)
        self._sleep = sleep

    def try_take(self) -> float:
        """Take one slot if free; else return the seconds until one may be free."""
        wait_ms = self._take(keys=self._keys,
                             args=[self.window_ms, self.limit, uuid.uuid4().hex])
        return int(wait_ms) / 1000.0

    def take(self, on_wait: Callable[[], None] | None = None) -> None:
        """Block until a slot is ours, or raise TransientError when that would take too long."""
        waited = 0.0
        while True:
            wait = self.try_take()
            if wait <= 0:
                return
            if waited + wait > self.max_wait:
                raise TransientError(f"request budget exhausted; next slot in {wait:.1f}s",
                                     retry_after=wait)
            if on_wait:
                on_wait()
            self._sleep(min(wait, 1.0))
            waited += min(wait, 1.0)

    def pause(self, seconds: float) -> None:
        """Stop every worker from calling this ERP key for `seconds` (after a 429)."""
        self._pause(keys=[self._keys[1]], args=[max(1, int(seconds * 1000))])
