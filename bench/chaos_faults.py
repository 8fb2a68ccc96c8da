"""Faults at rates, from a simulator that only knows faults by count.

`POST /_sim/faults` arms a fault for the next `count` calls matching an endpoint; there is no
probability. So once a second this driver reads the simulator's call counters, and for every
kind of fault arms as many calls as its rate asks of the calls made since the last look (the
fraction carried over). The faults land on the next calls, not on a random sample, and a
second late; averaged over a run the rates come out as asked, and the report quotes the rates
actually applied (from the faults' own `applied` counters). A `probability` field on a fault in
`simulators/admin.py` would make this exact and the driver unnecessary.

Every `burst_every` seconds a rate-limit burst: the next calls, whatever their endpoint, answer
429 (Retry-After: 1); as many calls as were made in the last `burst_seconds`, so that a burst
lasts about that long at any traffic; none while traffic is thin (under `burst_min_rate` calls
a second, at the end of a run, a burst would land on the same one or two jobs every time and
only measure their backoff), and never a new burst while the last one is not used up.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

WRITES = (
    "POST /Customers",
    "POST /Products",
    "POST /SalesOrders/Complete",
    "PATCH /Customers/{id}",
)


@dataclass(frozen=True)
class FaultRate:
    mode: str  # a simulator fault mode
    share: float  # of the matching calls
    endpoints: tuple[str, ...] | None  # None: every ERP endpoint ("*")
    status: int | None = None


@dataclass
class FaultDriver:
    sim: httpx.Client
    rates: list[FaultRate]
    burst_every: float = 20.0
    burst_seconds: float = 1.0
    burst_min_rate: float = 10.0  # calls/s; below it a "burst" would hit one lone job each time
    tick: float = 1.0
    armed: Counter[str] = field(default_factory=Counter)  # calls armed, by mode
    bursts: int = 0
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="chaos-faults", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        try:
            self.sim.delete("/_sim/faults")  # applied counts are read before this
        except httpx.HTTPError:
            self.errors += 1

    def _loop(self) -> None:
        seen: Counter[str] = Counter()
        credit: dict[tuple[str, str], float] = {}
        next_burst = time.monotonic() + self.burst_every / 2
        last_burst: int | None = None
        while not self._stop.wait(self.tick):
            try:
                by_endpoint = Counter(self.sim.get("/_sim/calls").json()["by_endpoint"])
                new = by_endpoint - seen
                seen = by_endpoint
                for rate in self.rates:
                    targets = rate.endpoints or ("*",)
                    for target in targets:
                        calls = sum(new.values()) if target == "*" else new.get(target, 0)
                        key = (rate.mode, target)
                        credit[key] = credit.get(key, 0.0) + calls * rate.share
                        whole = int(credit[key])
                        if whole:
                            credit[key] -= whole
                            self._arm(rate, target, whole)
                per_second = sum(new.values()) / self.tick
                if (
                    time.monotonic() >= next_burst
                    and per_second >= self.burst_min_rate
                    and not self._left(last_burst)
                ):
                    next_burst = time.monotonic() + self.burst_every
                    calls = max(1, round(per_second * self.burst_seconds))
                    last_burst = self._arm(FaultRate("rate_limit", 0, None), "*", calls)
                    self.bursts += 1
            except (httpx.HTTPError, ValueError, KeyError):
                self.errors += 1

    def _arm(self, rate: FaultRate, target: str, count: int) -> int:
        """Arm `count` calls; returns the fault's id."""
        spec: dict[str, object] = {"match": target, "mode": rate.mode, "count": count}
        if rate.status is not None:
            spec["status"] = rate.status
        response = self.sim.post("/_sim/faults", json=spec)
        response.raise_for_status()
        self.armed[rate.mode] += count
        return int(response.json()["id"])

    def _left(self, fault_id: int | None) -> bool:
        """Has the fault `fault_id` calls left?"""
        if fault_id is None:
            return False
        faults = self.sim.get("/_sim/faults").json()
        return any(f["id"] == fault_id and (f["count"] or 0) > 0 for f in faults)


def applied(sim: httpx.Client) -> dict[str, int]:
    """Calls each fault mode was applied to so far (the faults' own counters)."""
    totals: Counter[str] = Counter()
    for fault in sim.get("/_sim/faults").json():
        mode = fault["mode"]
        if mode == "commit_then_status":
            mode = f"commit_then_{fault['status']}"
        elif mode == "status":
            mode = str(fault["status"])
        totals[mode] += int(fault["applied"])
    return dict(totals)
