"""The one place that decides: try again (and when), or dead-letter (and why).

Transient and ambiguous failures are retried with exponential backoff and full jitter, capped
per wait, honouring the ERP's Retry-After, until the retry window since the first failure is
used up; permanent failures are dead-lettered at once, with no retries burned.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.errors import ErpError
from core.settings import RetrySettings


@dataclass(frozen=True)
class Retry:
    at: datetime
    delay: float


@dataclass(frozen=True)
class GiveUp:
    reason: str  # "permanent_error" | "retries_exhausted"


def backoff_seconds(
    attempt: int,
    policy: RetrySettings,
    retry_after: float | None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))], but never before Retry-After."""
    ceiling = min(policy.cap_seconds, policy.base_seconds * 2 ** max(0, attempt - 1))
    delay: float = rand() * ceiling
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def decide(
    error: ErpError,
    attempt: int,
    first_failure_at: datetime | None,
    now: datetime,
    policy: RetrySettings,
    rand: Callable[[], float] = random.random,
) -> Retry | GiveUp:
    if error.kind == "permanent":
        return GiveUp("permanent_error")
    delay = backoff_seconds(attempt, policy, error.retry_after, rand)
    started = first_failure_at or now
    if (now - started).total_seconds() + delay > policy.window_seconds:
        return GiveUp("retries_exhausted")
    return Retry(at=now + timedelta(seconds=delay), delay=delay)
