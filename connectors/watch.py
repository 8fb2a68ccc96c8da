"""Small helpers the connectors' invoice watches share: ERP time stamps and lookup batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")


def parse_stamp(raw: str) -> datetime:
    """An ISO 8601 stamp as ERPs write it (`Z` or an offset, a space or a T, up to seven
    fractional digits); no offset means UTC. ValueError when it is not one."""
    parsed = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def batches(values: Sequence[T], size: int) -> list[list[T]]:
    """`values` in consecutive lists of at most `size`, in order."""
    return [list(values[i : i + size]) for i in range(0, len(values), size)]
