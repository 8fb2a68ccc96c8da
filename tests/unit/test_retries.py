"""The retry decision: full-jitter backoff, Retry-After, the window, permanent means at once."""

from __future__ import annotations

from datetime import timedelta

from connectors.errors import AmbiguousError, PermanentError, TransientError
from core.settings import RetrySettings
from schemas.job import utcnow
from tasks.retries import GiveUp, Retry, backoff_seconds, decide

POLICY = RetrySettings(base_seconds=2, cap_seconds=600, window_seconds=86_400)


def test_backoff_doubles_and_is_capped() -> None:
    top = lambda: 1.0  # noqa: E731 - the largest jitter draw
    assert [backoff_seconds(n, POLICY, None, top) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff_seconds(30, POLICY, None, top) == 600


def test_full_jitter_can_be_zero() -> None:
    assert backoff_seconds(5, POLICY, None, lambda: 0.0) == 0


def test_retry_after_is_a_floor() -> None:
    assert backoff_seconds(1, POLICY, 30.0, lambda: 0.5) == 30.0


def test_transient_and_ambiguous_are_retried() -> None:
    now = utcnow()
    for error in (TransientError("503"), AmbiguousError("dropped")):
        decision = decide(error, 1, None, now, POLICY, lambda: 0.5)
        assert isinstance(decision, Retry)
        assert decision.at == now + timedelta(seconds=1)


def test_permanent_is_dead_lettered_at_once() -> None:
    decision = decide(PermanentError("400"), 1, None, utcnow(), POLICY)
    assert decision == GiveUp("permanent_error")


def test_window_exhausted() -> None:
    now = utcnow()
    first = now - timedelta(seconds=86_300)
    decision = decide(TransientError("503"), 40, first, now, POLICY, lambda: 1.0)
    assert decision == GiveUp("retries_exhausted")
