"""Lease fencing: a write made under a job's lease lands only while the lease is still ours.

A worker cut off from the network keeps running: its step may wait out a timeout, its Redis
client retries, and when the link comes back it goes on as if it still held the job. By then
its lease has expired and another worker may have taken the job, run the step and recorded a
result. So every write under a lease carries a `Fence` (the lease's lock key and our token) and
the store checks it in the same script that writes, on the server, at the moment the write is
applied: a write that arrives late, however late, cannot land over another holder's work. A
fence that no longer holds raises `LeaseLost`, and the holder abandons the job: no ERP call,
no further write (the new holder owns its schedule and its slot).
"""

from __future__ import annotations

from dataclasses import dataclass


class LeaseLost(Exception):
    """The job's lease expired or went to another worker: stop working on the job at once.

    Not a Redis error and not an ERP error: nothing failed that a retry should repeat."""


@dataclass(frozen=True)
class Fence:
    """The lease a write depends on: its lock key, our token, and for how long (ms) a write
    that finds it ours renews it (0: the write does not renew it)."""

    key: str
    token: str
    renew_ms: int = 0
