"""A backfill's progress in Redis: where it stands, what became of each order, who runs it.

A backfill is named by its connection, period and mode (`run_id`), so the same arguments find
the same record and carry on from its cursor. Its keys (`BACKFILLS`, `ob:backfill:<connection>:
<run id>[:part]`):
- the record (hash): since, until, dry_run, state, cursor (of the next page), listed (`1`
  once the last page is done), pages, position (epoch seconds of the last order's creation),
  oldest_first, times, error;
- `:orders` (hash order id -> `new`/`known`/`refused`, or `pending:<epoch>` while it is being
  handled): each order's outcome, recorded once (`record_outcome`, with the counts);
- `:counts` (hash): `found`, `new`, `known`, `refused`, `reason:<reason>`, `verdict:<verdict>`;
- `:refused` (hash order id -> reason);
- `:lease` (string, expiring): the token of the process running it, `host/pid/uuid`;
and per connection `ob:backfill:<connection>:index` (set): its backfills' ids.

An order is marked pending before it is handled and gets its outcome after; a run killed in
between handles it again (submitting is idempotent) and tells from the pending mark's time
whether the job it finds is the one it made itself.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import redis

from core.keyspace import Family
from core.store import Store
from schemas.backfill import BackfillProgress, BackfillState, BackfillSummary, RefusedOrder

BACKFILLS = Family(
    "backfill",
    "per (connection, backfill id): the backfill's record (hash) and its `:orders` (hash order "
    "id -> outcome), `:counts`, `:refused` (hashes) and `:lease` (string, expiring); per "
    "connection `index` (set of its backfill ids) (`tasks.backfill_progress`).",
)
PENDING = "pending:"
INDEX = "index"  # not a backfill id: `ob:backfill:<connection>:index` lists them
OUTCOMES = ("new", "known", "refused")
LEASE_SECONDS = 15.0
REFUSED_SHOWN = 50
STATES: tuple[BackfillState, ...] = ("running", "interrupted", "failed", "done")

# An order's outcome and its counts, once: not when the order already has an outcome (a run
# killed after recording it, or another runner), so every order is counted exactly once.
# KEYS: orders, counts, refused. ARGV: order id, outcome (new | known | refused), reason ('' =
# none), verdict ('' = none). Returns 1 when recorded, 0 when the order had an outcome already.
_RECORD_OUTCOME = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and string.sub(current, 1, 8) ~= 'pending:' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], 'found', 1)
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
if ARGV[3] ~= '' then
  redis.call('HINCRBY', KEYS[2], 'reason:' .. ARGV[3], 1)
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
end
if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[2], 'verdict:' .. ARGV[4], 1) end
return 1
"""

# The lease taken over from a holder known to be gone: set to `ARGV[2]` for `ARGV[3]` ms only
# while it still holds that holder's token `ARGV[1]` (as read before).
# KEYS: the lease. ARGV: the token it must hold now, the new token, ms. Returns 1 if set.
_SWAP_LEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""

# The lease renewed by its holder: pushed `ARGV[2]` ms out if it holds the holder's token, or
# taken again if it expired meanwhile (a long wait for the shop) and nobody else took it.
# KEYS: the lease. ARGV: the holder's token, ms. Returns 0 when another holds it now.
_RENEW_LEASE = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# The lease let go by its holder. KEYS: the lease. ARGV: the holder's token. Returns 1 if it was.
_DROP_LEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""


class Busy(Exception):
    """Another process runs this backfill (its lease holds)."""


def run_id(since: datetime, until: datetime | None, dry_run: bool) -> str:
    """`20261101T000000Z-open-live`: the period as asked for (`open`: until the first start)
    and the mode. The same arguments give the same id, and so the same progress."""
    end = _stamp(until) if until is not None else "open"
    return f"{_stamp(since)}-{end}-{'dry' if dry_run else 'live'}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def valid_run_id(text: str) -> bool:
    parts = text.split("-")
    return (
        len(parts) == 3
        and _is_stamp(parts[0])
        and (parts[1] == "open" or _is_stamp(parts[1]))
        and parts[2] in ("live", "dry")
    )


def _is_stamp(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return False
    return True


def new_token() -> str:
    """`host/pid/uuid`: whose the lease is, so a run on the same machine can tell that the
    holder was killed (`holder_is_gone`). Machines (containers) must have names of their own;
    if two share one, a live holder may be taken over: the outcomes stay counted once and the
    submissions idempotent, only both then read the shop."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex}"


def holder_is_gone(token: str) -> bool:
    """A holder on this machine whose process no longer exists (killed): its lease is void."""
    host, _, rest = token.partition("/")
    pid = rest.partition("/")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Progress:
    """One backfill's keys."""

    def __init__(self, store: Store, connection: str, backfill_id: str) -> None:
        self.redis: redis.Redis = store.redis
        self.connection, self.id = connection, backfill_id
        self.key = BACKFILLS.key(connection, backfill_id)
        self.orders, self.counts, self.refused, self.lease = (
            BACKFILLS.key(connection, backfill_id, part)
            for part in ("orders", "counts", "refused", "lease")
        )
        self._record = self.redis.register_script(_RECORD_OUTCOME)
        self._swap = self.redis.register_script(_SWAP_LEASE)
        self._renew = self.redis.register_script(_RENEW_LEASE)
        self._drop = self.redis.register_script(_DROP_LEASE)

    # --- the record ---------------------------------------------------------------------------
    def exists(self) -> bool:
        return bool(self.redis.exists(self.key))

    def meta(self) -> dict[str, str]:
        return dict(self.redis.hgetall(self.key))  # type: ignore[arg-type]

    def create(self, since: datetime, until: datetime, dry_run: bool, oldest_first: bool) -> None:
        now = str(time.time())
        self.redis.sadd(BACKFILLS.key(self.connection, INDEX), self.id)
        self.redis.hset(
            self.key,
            mapping={
                "since": str(since.timestamp()),
                "until": str(until.timestamp()),
                "dry_run": "1" if dry_run else "0",
                "oldest_first": "1" if oldest_first else "0",
                "state": "running",
                "started_at": now,
                "updated_at": now,
                "pages": "0",
            },
        )

    def forget(self) -> None:
        """Drop the record and outcomes (a fresh start); the lease stays with its holder."""
        self.redis.delete(self.key, self.orders, self.counts, self.refused)

    def update(self, **fields: str) -> None:
        self.redis.hset(self.key, mapping={**fields, "updated_at": str(time.time())})

    def page_done(self, cursor: str | None, position: float | None) -> None:
        """A page's orders all have outcomes: the next run starts from `cursor` (None: there
        is no next page)."""
        fields = {"cursor": cursor or "", "listed": "0" if cursor else "1"}
        if position is not None:
            fields["position"] = str(position)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.key, mapping={**fields, "updated_at": str(time.time())})
        pipe.hincrby(self.key, "pages", 1)
        pipe.execute()

    # --- the orders ---------------------------------------------------------------------------
    def mark_pending(self, order_ids: list[str]) -> tuple[dict[str, str], str]:
        """Mark the orders without an outcome as pending now. Returns each order's entry
        (this mark, an earlier run's `pending:<epoch>`, or the outcome it has) and the mark."""
        mark = f"{PENDING}{time.time()}"
        if not order_ids:
            return {}, mark
        pipe = self.redis.pipeline(transaction=False)
        for order_id in order_ids:
            pipe.hsetnx(self.orders, order_id, mark)
        pipe.hmget(self.orders, order_ids)
        entries = pipe.execute()[-1]
        found = {i: str(e) for i, e in zip(order_ids, entries, strict=True) if e is not None}
        return found, mark

    def record_outcome(
        self, order_id: str, outcome: str, reason: str | None = None, verdict: str | None = None
    ) -> bool:
        assert outcome in OUTCOMES
        return bool(
            self._record(
                keys=[self.orders, self.counts, self.refused],
                args=[order_id, outcome, reason or "", verdict or ""],
            )
        )

    def summary(self) -> BackfillSummary:
        counts = {k: int(v) for k, v in self.redis.hgetall(self.counts).items()}  # type: ignore[union-attr]
        return BackfillSummary(
            **{name: counts.get(name, 0) for name in ("found", *OUTCOMES)},
            by_reason=_below(counts, "reason:"),
            by_verdict=_below(counts, "verdict:"),
        )

    def refused_orders(self, most: int = REFUSED_SHOWN) -> list[RefusedOrder]:
        _, found = self.redis.hscan(self.refused, 0, count=most)  # type: ignore[misc]
        return [RefusedOrder(order_id=k, reason=v) for k, v in list(found.items())[:most]]

    # --- the lease ----------------------------------------------------------------------------
    def take_lease(self, token: str, wait: float = 0.0, sleep: Any = time.sleep) -> None:
        """Hold the lease under `token`, taking over one whose holder on this machine is gone;
        waits up to `wait` seconds for another holder's lease to end, else raises Busy."""
        ms = int(LEASE_SECONDS * 1000)
        deadline = time.monotonic() + wait
        while True:
            if self.redis.set(self.lease, token, px=ms, nx=True):
                return
            held = str(self.redis.get(self.lease) or "")
            if held and holder_is_gone(held):
                if self._swap(keys=[self.lease], args=[held, token, ms]):
                    return
                continue
            if time.monotonic() >= deadline:
                raise Busy(
                    f"backfill {self.id} of {self.connection} is running in another process "
                    f"(or was stopped less than {LEASE_SECONDS:.0f} s ago): try again shortly"
                )
            sleep(0.5)

    def renew_lease(self, token: str) -> bool:
        return bool(self._renew(keys=[self.lease], args=[token, int(LEASE_SECONDS * 1000)]))

    def drop_lease(self, token: str) -> None:
        self._drop(keys=[self.lease], args=[token])

    def running(self) -> bool:
        """Someone holds the lease who may still be at it (not a holder here that is gone)."""
        held = self.redis.get(self.lease)
        return held is not None and not holder_is_gone(str(held))

    # --- the report ---------------------------------------------------------------------------
    def view(self) -> BackfillProgress | None:
        meta = self.meta()
        if not meta:
            return None
        state: BackfillState = _state(meta.get("state"))
        if state == "running" and not self.running():
            state = "interrupted"
        since, until = float(meta["since"]), float(meta["until"])
        position = float(meta["position"]) if meta.get("position") else None
        return BackfillProgress(
            id=self.id,
            connection=self.connection,
            since=_time(since),
            until=_time(until),
            dry_run=meta.get("dry_run") == "1",
            state=state,
            started_at=_time(float(meta["started_at"])),
            updated_at=_time(float(meta["updated_at"])),
            finished_at=_time(float(meta["finished_at"])) if meta.get("finished_at") else None,
            pages=int(meta.get("pages") or 0),
            position=_time(position) if position is not None else None,
            done_fraction=1.0
            if state == "done"
            else fraction(since, until, position, meta.get("oldest_first") != "0"),
            error=meta.get("error") or None,
            summary=self.summary(),
            refused_orders=self.refused_orders(),
        )


def fraction(since: float, until: float, position: float | None, oldest_first: bool) -> float:
    """How much of the period lies behind the last order handled (the listing's direction)."""
    if position is None or until <= since:
        return 0.0
    part = (position - since) / (until - since)
    return round(min(1.0, max(0.0, part if oldest_first else 1.0 - part)), 4)


def _state(text: str | None) -> BackfillState:
    for state in STATES:
        if state == text:
            return state
    return "running"


def _below(counts: dict[str, int], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: v for k, v in sorted(counts.items()) if k.startswith(prefix)}


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def backfills(store: Store, connection: str) -> list[Progress]:
    """Every backfill of a connection that has a record, oldest period first."""
    ids = cast("set[str]", store.redis.smembers(BACKFILLS.key(connection, INDEX)))
    return [Progress(store, connection, str(backfill_id)) for backfill_id in sorted(ids)]
