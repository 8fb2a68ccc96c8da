"""Exact Online's per-division call limits: so many calls a minute and so many a day.

Both windows follow the clock: the minute window starts at a multiple of `minute_seconds` since
the epoch (a real minute by default; tests shorten it to run the same rules faster) and the day
starts at 00:00 UTC. Every admitted API reply carries all six `X-RateLimit-*` headers, resets in
epoch milliseconds; a refused call gets 429 with only the headers of the limit it broke, and does
not count (so waiting until the reset always helps).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.responses import Response

from simulators.exact.errors import error_response
from simulators.exact.options import ExactSimOptions

DAY_SECONDS = 86400
RATE_LIMIT_TEXT = "API rate limit exceeded."  # the real 429 body is unconfirmed


@dataclass
class _Window:
    index: int = -1
    used: int = 0

    def at(self, index: int) -> _Window:
        if index != self.index:
            self.index, self.used = index, 0
        return self


@dataclass(frozen=True)
class _Reading:
    limit: int
    remaining: int
    reset_ms: int


class RateLimiter:
    def __init__(self) -> None:
        self._minute: dict[int, _Window] = {}
        self._day: dict[int, _Window] = {}

    def clear(self) -> None:
        self._minute.clear()
        self._day.clear()

    def take(self, division: int, options: ExactSimOptions) -> dict[str, str] | Response:
        """Count one call: the six headers for its reply, or the 429 that refuses it."""
        minute, day = self._read(division, options)
        if day.remaining <= 0:
            return too_many(_daily(day))
        if minute.remaining <= 0:
            return too_many(_minutely(minute))
        self._minute[division].used += 1
        self._day[division].used += 1
        minute, day = self._read(division, options)
        return {**_daily(day), **_minutely(minute)}

    def headers(self, division: int, options: ExactSimOptions) -> dict[str, str]:
        """The six headers as they stand, without counting a call."""
        minute, day = self._read(division, options)
        return {**_daily(day), **_minutely(minute)}

    def refusal(self, division: int, options: ExactSimOptions) -> Response:
        """A minutely 429 as if the minute's calls were used up (the `rate_limit` fault)."""
        minute, _ = self._read(division, options)
        return too_many(_minutely(_Reading(minute.limit, 0, minute.reset_ms)))

    def _read(self, division: int, options: ExactSimOptions) -> tuple[_Reading, _Reading]:
        now = time.time()
        minute_index = int(now // options.minute_seconds)
        day_index = int(now // DAY_SECONDS)
        minute = self._minute.setdefault(division, _Window()).at(minute_index)
        day = self._day.setdefault(division, _Window()).at(day_index)
        return (
            _Reading(
                options.minute_limit,
                max(options.minute_limit - minute.used, 0),
                (minute_index + 1) * options.minute_seconds * 1000,
            ),
            _Reading(
                options.day_limit,
                max(options.day_limit - day.used, 0),
                (day_index + 1) * DAY_SECONDS * 1000,
            ),
        )


def too_many(headers: dict[str, str]) -> Response:
    return error_response(429, RATE_LIMIT_TEXT, headers)


def _daily(reading: _Reading) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(reading.limit),
        "X-RateLimit-Remaining": str(reading.remaining),
        "X-RateLimit-Reset": str(reading.reset_ms),
    }


def _minutely(reading: _Reading) -> dict[str, str]:
    return {
        "X-RateLimit-Minutely-Limit": str(reading.limit),
        "X-RateLimit-Minutely-Remaining": str(reading.remaining),
        "X-RateLimit-Minutely-Reset": str(reading.reset_ms),
    }
