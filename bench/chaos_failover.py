"""The violence of the failover runs (`make chaos-ha`), done to a Sentinel group mid-run.

- A master kill: at about order N the master the Sentinels name is SIGKILLed; once every live
  Sentinel names a replica in its place, the old master is started again on its port and
  directory (empty, calling itself master) and the Sentinels turn it into the new master's
  replica, so that a later kill still leaves replicas.
- Replicas away: at about order N every replica is SIGSTOPped for a while, then SIGCONTed.
  While they are stopped no write can be confirmed, so no ERP write may happen for a step
  whose marks came after the stop; the ERP's write counter is read every half second to show
  that (after `grace` seconds, for a step whose marks were confirmed just before the stop).

Events are timed by the order they come at (`start + N / rate`, as the posting paces them) and
run one after the other in one thread. What each did is recorded for the report; the recovery
times that need the posted orders and the jobs are filled in by `recoveries` afterwards.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx
import redis

from bench.chaos_faults import WRITES
from tests.support.sentinel import SentinelGroup, Server

SAMPLE_SECONDS = 0.5


@dataclass
class Failover:
    """One master kill and what followed; times in seconds after the SIGKILL."""

    at_order: int
    killed: str = ""
    at: float = 0.0  # wall time of the SIGKILL
    replicas_in_sync: int = 0  # when the kill came
    promoted: str = ""
    agreed_after: float | None = None  # every live Sentinel named the new master
    rejoined_after: float | None = None  # the old master replicated the new one, in sync
    intake_after: float | None = None  # an order accepted by a POST sent after the kill
    worker_after: float | None = None  # a job finished after the Sentinels agreed
    error: str = ""


@dataclass
class ReplicasAway:
    """Every replica stopped for `seconds`, and the ERP writes seen meanwhile."""

    at_order: int
    seconds: float
    grace: float
    paused: list[str] = field(default_factory=list)
    at: float = 0.0  # wall time of the SIGSTOP
    resumed_at: float = 0.0
    writes: list[tuple[float, int]] = field(default_factory=list)  # (s after stop, writes since)
    writes_in_grace: int = 0  # by steps confirmed before the stop
    writes_while_away: int = 0  # after the grace until SIGCONT: must be 0
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and self.writes_while_away == 0 and bool(self.writes)


@dataclass
class HaChaos:
    """Runs the master kills and the replicas' pause of one run, in order, in a thread."""

    group: SentinelGroup
    sim_url: str
    start: float  # wall time the posting paces from
    rate: float  # orders per second
    failovers: list[Failover] = field(default_factory=list)
    away: ReplicasAway | None = None
    rejoin_timeout: float = 90.0
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def begin(self) -> None:
        self._start(self._run, "chaos-ha")

    def _start(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def join(self, timeout: float) -> None:
        """Until every event is over, old masters back as replicas included."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self.join(30)

    def _wait_for_order(self, order: int) -> bool:
        """Sleep until order `order` is due; False when stopped first."""
        return not self._stop.wait(max(0.0, self.start + order / self.rate - time.time()))

    def _run(self) -> None:
        events: list[Failover | ReplicasAway] = [*self.failovers]
        if self.away is not None:
            events.append(self.away)
        for event in sorted(events, key=lambda e: e.at_order):
            if not self._wait_for_order(event.at_order):
                return
            try:
                if isinstance(event, Failover):
                    self._kill_master(event)
                else:
                    self._replicas_away(event)
            except Exception as exc:  # recorded: the run fails, the next event still comes
                event.error = f"{type(exc).__name__}: {exc}"

    def _kill_master(self, failover: Failover) -> None:
        group = self.group
        old = group.master()
        failover.replicas_in_sync = _replicas_in_sync(old)
        old.kill()
        failover.killed, failover.at = old.name, time.time()
        timeout = group.down_after_ms / 1000 + 30
        new = group.wait_for_new_master(old, timeout)
        failover.promoted, failover.agreed_after = new.name, time.time() - failover.at

        def rejoin() -> None:  # apart: the next event must not wait for the Sentinels' pace
            try:
                group.restart(old)
                group.wait_until_replica(old, self.rejoin_timeout)
                failover.rejoined_after = time.time() - failover.at
            except Exception as exc:
                failover.error = f"rejoining: {type(exc).__name__}: {exc}"

        self._start(rejoin, f"chaos-rejoin-{old.name}")

    def _replicas_away(self, away: ReplicasAway) -> None:
        replicas = self.group.replicas()
        with httpx.Client(base_url=self.sim_url, timeout=10) as sim:
            before = _erp_writes(sim)
            for server in replicas:
                server.pause()
            away.at = time.time()
            away.paused = [s.name for s in replicas]
            try:
                while (elapsed := time.time() - away.at) < away.seconds:
                    away.writes.append((elapsed, _erp_writes(sim) - before))
                    self._stop.wait(SAMPLE_SECONDS)
                away.writes.append((time.time() - away.at, _erp_writes(sim) - before))
            finally:
                for server in replicas:
                    server.resume()
                away.resumed_at = time.time()
        at_grace = next((n for t, n in away.writes if t >= away.grace), away.writes[-1][1])
        away.writes_in_grace = at_grace
        away.writes_while_away = away.writes[-1][1] - at_grace


def _replicas_in_sync(master: Server) -> int:
    with contextlib.suppress(redis.RedisError):
        info = master.client().info("replication")
        return sum(
            1
            for key, value in info.items()
            if key.startswith("slave")
            and isinstance(value, dict)
            and value.get("state") == "online"
        )
    return 0


def _erp_writes(sim: httpx.Client) -> int:
    by_endpoint: dict[str, int] = sim.get("/_sim/calls").json()["by_endpoint"]
    return sum(int(by_endpoint.get(w, 0)) for w in WRITES)


def recoveries(
    failovers: Iterable[Failover],
    accepted_at: list[tuple[float, float]],
    finished_at: list[float],
) -> None:
    """Fill in, for each kill, how long until the intake accepted an order again (the answer
    to a POST sent after the kill) and until a job finished after the Sentinels agreed."""
    for failover in failovers:
        if not failover.at:
            continue
        answers = [answered for sent, answered in accepted_at if sent >= failover.at]
        if answers:
            failover.intake_after = min(answers) - failover.at
        if failover.agreed_after is not None:
            agreed = failover.at + failover.agreed_after
            done = [t for t in finished_at if t >= agreed]
            if done:
                failover.worker_after = min(done) - failover.at
