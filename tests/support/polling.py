"""Waiting for a condition with a deadline, the one way every test waits (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def poll(
    condition: Callable[[], Any],
    timeout: float = 30,
    interval: float = 0.05,
    what: str = "condition",
) -> Any:
    """Return the first truthy value of `condition()`, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
