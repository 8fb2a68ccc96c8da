"""Everything orderbridge keeps in Redis: jobs, the due schedule, dead letters, caches, tokens,
delivery and event markers, budgets, worker liveness.

One place names the keys, so nothing else builds key strings. Three structures carry the
delivery guarantees:
- `ob:ref:{connection}:{external_id}` is written with the job in one script (SET NX semantics),
  so the same order accepted twice yields one job.
- `ob:due` is a sorted set of job ids scored by when the job next needs attention: a retry time,
  or "now + stale" while a step runs or waits in the queue. The sweeper re-enqueues what is due,
  which covers scheduled retries, lost messages and workers killed outright alike.
- dead letters live in `ob:dl:{id}` with the index `ob:dlq`, kept until dropped or replayed.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, cast

import redis

from core import redis_client
from core.endpoints import RedisEndpoint
from core.fencing import Fence, LeaseLost
from core.keyspace import Family
from core.replicas import NotReplicated, Replication
from schemas.dead_letter import DeadLetter
from schemas.job import Job

# --- key families (core.keyspace): what every `ob:*` key of the store holds ---------------------
REFS = Family(
    "ref",
    "string per (connection, shop order id): the job id of that order, so an order is taken once.",
)
JOBS = Family(
    "job",
    "string per job id: the job record (JSON, `schemas.job.Job`).",
)
DUE = Family(
    "due",
    "zset job id -> when the unfinished job next needs attention (its retry, or last sign of "
    "life + stale time): the due-schedule the sweeper works from.",
)
DOC_JOBS = Family(
    "docjob",
    "hash per connection: `ref:<reference>` or `order:<ERP order id>` -> job id, to find the "
    "job of an ERP document.",
)
STATS = Family(
    "stats",
    "hash counter name -> count (jobs created, events delivered, ...).",
)
CANCELLED = Family(
    "cancelled",
    "string per (connection, shop order id), expiring: cancelled before it reached us (a "
    "tombstone).",
)
PREVIEWED = Family(
    "previewed",
    "set per connection: shop order ids whose job ended `previewed` (preview mode) and was not "
    "sent since, so an event after the connection goes live sends it.",
)
SENT = Family(
    "sent",
    "hash job id -> when its latest broker message was sent, until a worker takes it (so the "
    "sweeper knows a message is still queued without looking into the broker).",
)
PURGE = Family(
    "purge",
    "zset job id -> when its order (the personal data) is removed.",
)
VERSIONS = Family(
    "version",
    "string per (connection, shop order id), expiring: the newest `updated_at` applied.",
)
DELIVERIES_SEEN = Family(
    "delivery",
    "string per (connection, webhook delivery key), expiring: a delivery already handled.",
)
RECONCILE_CLAIMS = Family(
    "reconcile",
    "string per connection, expiring: this interval's shop reconciliation is claimed.",
)
INVOICE_POLL_CLAIMS = Family(
    "invoice-poll",
    "string per connection, expiring: this interval's invoice poll is claimed.",
)
INVOICES = Family(
    "inv",
    "per connection: `cursor` (string: the invoice watch's position), `doc` (hash invoice id "
    "-> latest view), `recent` (zset invoice id -> seen at), `seen:<event id>` (string, "
    "expiring: event recorded), `unmatched` (hash invoice id -> first seen without a job).",
)
EVENTS = Family(
    "events",
    "stream per connection: invoice events, in order, for delivery.",
)
JOB_EVENTS = Family(
    "jobevents",
    "list per job id, expiring: the job's invoice events (JSON).",
)
EVENT_DELIVERY = Family(
    "deliv",
    "hash per connection: the event delivery's cursor, failure count and next try.",
)
REDELIVERIES = Family(
    "redeliver",
    "list per connection: events an operator replays, oldest first (JSON).",
)
WORKERS = Family(
    "worker",
    "string per worker pid, expiring: the worker is alive.",
)
BUDGETS = Family(
    "budget",
    "per budget name: the shared request budget's keys (`core.budget.budget_keys`).",
)
SHOP_CURSORS = Family(
    "cursor",
    "string per connection: how far shop reconciliation has read (epoch seconds).",
)
DOCUMENTS = Family(
    "doc",
    "string per job id: the invoice PDF (base64).",
)
LOCKS = Family(
    "lock",
    "string per (scope..., name), expiring: the token of the lock's holder.",
)
TOKENS = Family(
    "token",
    "string per token name, expiring: a sealed access-token grant (`connectors.tokens`).",
)
DEAD_LETTERS = Family(
    "dl",
    "string per letter id: the dead letter (JSON, `schemas.dead_letter.DeadLetter`).",
)
DEAD_LETTER_INDEX = Family(
    "dlq",
    "zset letter id -> created at: every dead letter, oldest first.",
)
CACHE = Family(
    "cache",
    "string per (connection, kind, key), expiring: an ERP id found or made (JSON).",
)

# A new job in one round trip, unless its order is known (then the existing job id) or was
# cancelled before it reached us (with ARGV[6] = '1': TOMBSTONE). Creates the reference, the job,
# its wake-up, its document-index entry and, when given, its place in the wait set. A repeat
# counts itself: a write of ours after the original's, so a WAIT after it covers the original.
# KEYS: ref, job, due, docjob, stats, kick, cancelled, wait, step labels.
# ARGV: job id, job JSON, due at, docjob field, wait score ('' = not admitted), '1' to check the
#       tombstone, wait label, then the counters to increment.
_CREATE_JOB = """
local existing = redis.call('GET', KEYS[1])
if existing then
  redis.call('HINCRBY', KEYS[5], 'orders_repeated', 1)
  return existing
end
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[7]) == 1 then return '!tombstone' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[4], ARGV[1])
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[8], ARGV[5], ARGV[1])
  redis.call('HSET', KEYS[9], ARGV[1], ARGV[7])
  redis.call('LPUSH', KEYS[6], '1')
  redis.call('LTRIM', KEYS[6], 0, 9)
end
for i = 8, #ARGV do redis.call('HINCRBY', KEYS[5], ARGV[i], 1) end
return false
"""
TOMBSTONE = "!tombstone"

# The job and what goes with it, together: its place in the due-schedule, its retention date,
# the index from its new ERP order id to it, counters. Fenced (ARGV[6] a lease token): written
# only while the job's lease holds that token, which the write renews (ARGV[7] ms, '0' = not);
# else nothing is written and 0 returned (`core.fencing`).
# KEYS: job, due, sent, stats, purge, docjob, the job's lease lock.
# ARGV: job id, job JSON, due ('' = keep, 'off' = take it off the schedule, else the time),
#       purge at ('' = none), docjob field ('' = none), lease token ('' = not fenced), renew
#       ms, then the counters to increment.
_SAVE_JOB = """
if ARGV[6] ~= '' then
  if redis.call('GET', KEYS[7]) ~= ARGV[6] then return 0 end
  if ARGV[7] ~= '0' then redis.call('PEXPIRE', KEYS[7], ARGV[7]) end
end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] == 'off' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
elseif ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
end
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[6], ARGV[5], ARGV[1]) end
for i = 8, #ARGV do redis.call('HINCRBY', KEYS[4], ARGV[i], 1) end
return 1
"""
HANDOFF_SEP = "\x1f"  # between the parts of an admission label (step, reference)

# One invoice event, exactly once: the marker, the stream entry, the invoice's latest state and
# the job's copy are written together, or (marker already there) only the state is refreshed.
# KEYS: seen marker, the connection's event stream, invoice views, recent invoices, job's events.
# ARGV: keep seconds, event JSON, invoice id, view JSON, now (s), oldest stream id kept (ms).
_RECORD_EVENT = """
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[3])
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then return false end
local id = redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[6], '*', 'event', ARGV[2])
redis.call('RPUSH', KEYS[5], ARGV[2])
redis.call('EXPIRE', KEYS[5], tonumber(ARGV[1]))
return id
"""

# Take what is due, pushing each on so no other sweeper takes it this round.
# KEYS: due. ARGV: now, hold until, most to take.
_CLAIM_DUE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
"""


# The job lease in one round trip: the lock (SET NX with our token), the job's wake-up ("now +
# stale" when taken, else only brought forward) and, when asked, the job itself.
# KEYS: lock, due schedule, job. ARGV: token, lock ms, wake-up time, job id, '1' to read the job.
_TAKE_LEASE = """
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  if ARGV[5] == '1' then return {1, redis.call('GET', KEYS[3])} end
  return {1}
end
redis.call('ZADD', KEYS[2], 'LT', ARGV[3], ARGV[4])
return {0}
"""

# The lease renewed by its holder: the lock's expiry pushed (and that of the locks it holds
# besides) and the job's wake-up set, only while they all still hold the holder's token
# (`core.fencing`). Returns 1 if it did, 0 (the lease is lost) if not.
# KEYS: lock, due schedule, then the other locks held under the token.
# ARGV: token, lock ms, wake-up time, job id.
_RENEW_LEASE = """
for i, key in ipairs(KEYS) do
  if i ~= 2 and redis.call('GET', key) ~= ARGV[1] then return 0 end
end
for i, key in ipairs(KEYS) do
  if i ~= 2 then redis.call('PEXPIRE', key, ARGV[2]) end
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
"""

# A dead letter and its dead job together, the job off the schedule; fenced like `_SAVE_JOB`
# (0 and nothing written when the lease no longer holds the token).
# KEYS: letter, letter index, job, due, sent, stats, the job's lease lock.
# ARGV: letter JSON, letter id, created at, job id, job JSON, lease token ('' = not fenced).
_BURY_JOB = """
if ARGV[6] ~= '' and redis.call('GET', KEYS[7]) ~= ARGV[6] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('SET', KEYS[3], ARGV[5])
redis.call('ZREM', KEYS[4], ARGV[4])
redis.call('HDEL', KEYS[5], ARGV[4])
redis.call('HINCRBY', KEYS[6], 'dead_letters', 1)
return 1
"""

# Locks held under one token: take all of KEYS or none, release them.
# KEYS: the locks. ARGV: token, ms.
_LOCK_ALL = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then return 0 end
end
for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'PX', ARGV[2]) end
return 1
"""
# KEYS: the locks. ARGV: token. Releases only those still ours.
_UNLOCK_ALL = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key); n = n + 1 end
end
return n
"""
LOCK_POLL_SECONDS = 0.05
DEAD_LETTER_CHUNK = 500  # letters read per MGET


# A shop order's version (its updated_at) is claimed only if not older than the one seen.
# KEYS: version. ARGV: this version, keep seconds. Returns 1 when claimed.
_CLAIM_VERSION = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) < current then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
return 1
"""


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class WaitEntry:
    """Where a new job waits for admission: the keys (wait set, labels, nudge list) and its
    score and label there; made by `core.admission.Admission.entry`."""

    keys: tuple[str, str, str]
    score: float
    label: str


class Store:
    """Typed access to orderbridge's Redis keys. Thread-safe (redis-py pools connections).

    `replication` says how many replicas must confirm the writes exactly-once rests on (the
    job's creation, the job lease, a step's `sending` mark and its result; `core.replicas`);
    by default none, and nothing waits."""

    def __init__(self, client: redis.Redis, replication: Replication | None = None) -> None:
        self.redis = client
        self.replication = replication or Replication()
        self._create_job = client.register_script(_CREATE_JOB)
        self._save_job = client.register_script(_SAVE_JOB)
        self._claim_due = client.register_script(_CLAIM_DUE)
        self._claim_version = client.register_script(_CLAIM_VERSION)
        self._record_event = client.register_script(_RECORD_EVENT)
        self._take_lease = client.register_script(_TAKE_LEASE)
        self._renew_lease = client.register_script(_RENEW_LEASE)
        self._bury_job = client.register_script(_BURY_JOB)
        self._lock_all = client.register_script(_LOCK_ALL)
        self._unlock_all = client.register_script(_UNLOCK_ALL)

    def _get(self, key: str) -> str | None:
        """GET, typed (redis-py's annotations cover its asyncio client too)."""
        return cast("str | None", self.redis.get(key))

    @classmethod
    def connect(cls, endpoint: RedisEndpoint, replication: Replication | None = None) -> Store:
        """The store on a configured Redis server or Sentinel group (`core.redis_client`);
        `replication`: the replicas that must confirm the writes exactly-once rests on."""
        return cls(redis_client.connect(endpoint, decode_responses=True), replication)

    # --- jobs ---------------------------------------------------------------------------------
    def create_job(
        self,
        job: Job,
        due_at: float,
        counters: tuple[str, ...] = (),
        admit: WaitEntry | None = None,
        check_tombstone: bool = False,
    ) -> tuple[str, bool]:
        """Store a new job unless one exists for its (connection, external id); only then add
        to `jobs_created` and `counters`, and (`admit`) put it in its connection's wait set for
        admission to hand to the workers (`core.admission`), all in the one script: the
        intake's accept is one round trip. With `check_tombstone`, an order cancelled before it
        reached us is not created and the id returned is `TOMBSTONE`.

        The job, new or found, is confirmed by the required replicas before this returns (else
        `NotReplicated`, though it may be on the master): the intake answers 2xx only after.

        Returns (job id, created). When not created, the id is the existing job's."""
        wait_keys = list(admit.keys) if admit else ["", "", ""]
        pipe = self.redis.pipeline(transaction=False)
        self._create_job(
            keys=[
                REFS.key(job.connection, job.external_id),
                JOBS.key(job.job_id),
                DUE.key(),
                DOC_JOBS.key(job.connection),
                STATS.key(),
                wait_keys[2],
                CANCELLED.key(job.connection, job.external_id),
                wait_keys[0],
                wait_keys[1],
            ],
            args=[
                job.job_id,
                job.model_dump_json(),
                due_at,
                f"ref:{job.reference}",
                admit.score if admit else "",
                "1" if check_tombstone else "0",
                admit.label if admit else "",
                "jobs_created",
                *counters,
            ],
            client=pipe,
        )
        replies, confirmed = self.replication.run(pipe)
        existing = replies[0]
        if existing != TOMBSTONE:  # created, or a repeat: either way the job must be durable
            self.replication.check(confirmed, f"job {existing or job.job_id} created")
        if existing:
            return existing, False
        return job.job_id, True

    def load_job(self, job_id: str) -> Job | None:
        raw = self._get(JOBS.key(job_id))
        return Job.model_validate_json(raw) if raw else None

    _KEEP = object()

    def save_job(
        self,
        job: Job,
        due_at: float | None | object = _KEEP,
        counters: tuple[str, ...] = (),
        purge_at: float | None = None,
        erp_order_id: str | None = None,
        confirm: bool = False,
        fence: Fence | None = None,
    ) -> None:
        """Write the job, and in the same round trip its place in the due-schedule (a time, or
        None to take it off), counters, its retention date, and the index from a new ERP order
        id to the job (so that its invoice, found later, finds the job). With `confirm` (a
        `sending` mark, a step's result) the required replicas confirm it before this returns,
        else `NotReplicated`. With `fence` (written under the job's lease) nothing is written
        unless the lease is still ours, which the write renews: else `LeaseLost`."""
        plain = due_at is Store._KEEP and not counters and purge_at is None and not erp_order_id
        if plain and fence is None and not (confirm and self.replication.required):
            self.redis.set(JOBS.key(job.job_id), job.model_dump_json())
            return
        if due_at is Store._KEEP:
            due = ""
        elif due_at is None:
            due = "off"
        else:
            due = repr(float(cast(float, due_at)))
        pipe = self.redis.pipeline(transaction=False)
        self._save_job(
            keys=[
                JOBS.key(job.job_id),
                DUE.key(),
                SENT.key(),
                STATS.key(),
                PURGE.key(),
                DOC_JOBS.key(job.connection),
                self.lease_key(job.job_id),
            ],
            args=[
                job.job_id,
                job.model_dump_json(),
                due,
                "" if purge_at is None else repr(float(purge_at)),
                f"order:{erp_order_id}" if erp_order_id else "",
                fence.token if fence else "",
                fence.renew_ms if fence else 0,
                *counters,
            ],
            client=pipe,
        )
        if confirm:
            written = self.replication.execute(pipe, f"job {job.job_id} saved")[0]
        else:
            written = pipe.execute()[0]
        if not written:
            raise LeaseLost(f"job {job.job_id}: the lease is no longer ours; nothing saved")

    def job_id_for(self, connection: str, external_id: str) -> str | None:
        return self._get(REFS.key(connection, external_id))

    def iter_jobs(self) -> Iterator[Job]:
        for key in self.redis.scan_iter(JOBS.key("*"), count=500):
            raw = self._get(key)
            if raw:
                yield Job.model_validate_json(raw)

    def claim_version(
        self, connection: str, order_id: str, updated_at: float, keep_seconds: int = 90 * 86_400
    ) -> bool:
        """Record the order's newest known state; False when `updated_at` is older than it."""
        return bool(
            self._claim_version(
                keys=[VERSIONS.key(connection, order_id)], args=[updated_at, keep_seconds]
            )
        )

    # --- preview mode -----------------------------------------------------------------------
    def mark_previewed(self, connection: str, order_id: str) -> None:
        self.redis.sadd(PREVIEWED.key(connection), order_id)

    def was_previewed(self, connection: str, order_id: str) -> bool:
        return bool(self.redis.sismember(PREVIEWED.key(connection), order_id))

    def unmark_previewed(self, connection: str, order_id: str) -> None:
        self.redis.srem(PREVIEWED.key(connection), order_id)

    def previewed_jobs(self, connection: str, limit: int) -> list[Job]:
        """Up to `limit` of the connection's previewed jobs (any of them: a set has no order)."""
        order_ids = cast("list[str]", self.redis.srandmember(PREVIEWED.key(connection), limit))
        if not order_ids:
            return []
        refs = [REFS.key(connection, order_id) for order_id in order_ids]
        job_ids = [i for i in cast("list[str | None]", self.redis.mget(refs)) if i]
        raws = cast("list[str | None]", self.redis.mget([JOBS.key(i) for i in job_ids]))
        jobs = [Job.model_validate_json(raw) for raw in raws if raw] if job_ids else []
        return [job for job in jobs if job.state == "previewed"]

    def bury(self, connection: str, order_id: str, keep_seconds: int) -> None:
        """A tombstone: the order was cancelled before it reached us; never create its job."""
        self.redis.set(CANCELLED.key(connection, order_id), "1", ex=keep_seconds)

    # --- deliveries seen (webhook dedupe) -----------------------------------------------------
    def seen_before(self, connection: str, delivery_keys: list[str]) -> bool:
        keys = [DELIVERIES_SEEN.key(connection, k) for k in delivery_keys]
        return bool(keys) and bool(self.redis.exists(*keys))

    def mark_seen(self, connection: str, delivery_keys: list[str], keep_seconds: int) -> None:
        if not delivery_keys:
            return
        pipe = self.redis.pipeline(transaction=False)
        for k in delivery_keys:
            pipe.set(DELIVERIES_SEEN.key(connection, k), "1", ex=keep_seconds)
        pipe.execute()

    # --- work done once per interval per connection (shop reconciliation, invoice polls) ------
    def claim_interval(self, what: Family, connection: str, interval_seconds: float) -> bool:
        """True for the one process that may do `what` for this connection now (once per
        interval, across all workers)."""
        return bool(
            self.redis.set(
                what.key(connection), "1", nx=True, px=max(100, int(interval_seconds * 1000))
            )
        )

    def reconcile_soon(self, connection: str) -> None:
        """Let the next sweep poll this shop at once (a webhook said there is more to read)."""
        self.redis.delete(RECONCILE_CLAIMS.key(connection))

    # --- after the order: invoices, their events, and delivering them -------------------------
    def job_for_document(
        self, connection: str, reference: str | None, order_id: str | None
    ) -> str | None:
        fields = [
            f for f in (reference and f"ref:{reference}", order_id and f"order:{order_id}") if f
        ]
        if not fields:
            return None
        found = cast("list[str | None]", self.redis.hmget(DOC_JOBS.key(connection), fields))
        return next((f for f in found if f), None)

    def invoice_cursor(self, connection: str) -> dict[str, str]:
        raw = self._get(INVOICES.key("cursor", connection))
        return cast("dict[str, str]", json.loads(raw)) if raw else {}

    def set_invoice_cursor(self, connection: str, cursor: dict[str, str]) -> None:
        self.redis.set(INVOICES.key("cursor", connection), json.dumps(cursor, sort_keys=True))

    def invoice_view(self, connection: str, invoice_id: str) -> dict[str, Any] | None:
        raw = cast("str | None", self.redis.hget(INVOICES.key("doc", connection), invoice_id))
        return cast("dict[str, Any]", json.loads(raw)) if raw else None

    def recent_invoices(self, connection: str, limit: int = 50) -> list[dict[str, Any]]:
        ids = cast(
            "list[str]", self.redis.zrevrange(INVOICES.key("recent", connection), 0, limit - 1)
        )
        if not ids:
            return []
        raws = cast("list[str | None]", self.redis.hmget(INVOICES.key("doc", connection), ids))
        return [json.loads(r) for r in raws if r]

    def record_invoice_event(
        self,
        connection: str,
        event_id: str,
        event_json: str,
        job_id: str,
        invoice_id: str,
        view_json: str,
        keep_seconds: float,
    ) -> str | None:
        """Append the event to the connection's stream unless this state change was recorded
        before; always refresh the invoice's latest state. Returns the stream id, or None."""
        now_ms = int(time.time() * 1000)
        minid = max(0, now_ms - int(keep_seconds * 1000))
        result = self._record_event(
            keys=[
                INVOICES.key("seen", connection, event_id),
                EVENTS.key(connection),
                INVOICES.key("doc", connection),
                INVOICES.key("recent", connection),
                JOB_EVENTS.key(job_id),
            ],
            args=[
                max(1, int(keep_seconds)),
                event_json,
                invoice_id,
                view_json,
                now_ms / 1000,
                minid,
            ],
        )
        return cast("str | None", result or None)

    def trim_invoice_views(self, connection: str, keep: int) -> int:
        """Forget all but the `keep` most recently seen invoices (the operator view's memory;
        the events themselves live in the stream)."""
        recent = INVOICES.key("recent", connection)
        excess = cast(int, self.redis.zcard(recent)) - keep
        if excess <= 0:
            return 0
        old = cast("list[str]", self.redis.zrange(recent, 0, excess - 1))
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(recent, *old)
        pipe.hdel(INVOICES.key("doc", connection), *old)
        pipe.execute()
        return len(old)

    def job_events(self, job_id: str) -> list[dict[str, Any]]:
        raws = cast("list[str]", self.redis.lrange(JOB_EVENTS.key(job_id), 0, -1))
        return [json.loads(r) for r in raws]

    def hold_unmatched(
        self, connection: str, invoice_id: str, snapshot_json: str, keep_seconds: float
    ) -> None:
        """An invoice whose job we cannot name yet (its order id is recorded a moment after the
        ERP made it): looked at again on the next polls, for a while."""
        key = INVOICES.key("unmatched", connection)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, invoice_id, snapshot_json)
        pipe.expire(key, max(1, int(keep_seconds)))
        pipe.execute()

    def unmatched(self, connection: str) -> dict[str, str]:
        return cast("dict[str, str]", self.redis.hgetall(INVOICES.key("unmatched", connection)))

    def drop_unmatched(self, connection: str, invoice_id: str) -> None:
        self.redis.hdel(INVOICES.key("unmatched", connection), invoice_id)

    def events_after(
        self, connection: str, after: str, count: int = 50
    ) -> list[tuple[str, dict[str, Any]]]:
        """Stream entries after stream id `after` ("0" for all), oldest first."""
        rows = cast(
            "list[tuple[str, dict[str, str]]]",
            self.redis.xrange(
                EVENTS.key(connection),
                f"({after}" if after != "0" else "-",
                "+",
                count=count,
            ),
        )
        return [(sid, json.loads(fields["event"])) for sid, fields in rows]

    def delivery_state(self, connection: str) -> dict[str, str]:
        return cast("dict[str, str]", self.redis.hgetall(EVENT_DELIVERY.key(connection)))

    def set_delivery_state(
        self, connection: str, counters: tuple[str, ...] = (), **fields: str | float | int
    ) -> None:
        """Write `fields` of the connection's delivery state (its cursor, failure count, next
        try) and, in the same round trip, add one to each of `counters`."""
        if not counters:
            self.redis.hset(EVENT_DELIVERY.key(connection), mapping=fields)
            return
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(EVENT_DELIVERY.key(connection), mapping=fields)
        for name in counters:
            pipe.hincrby(STATS.key(), name, 1)
        pipe.execute()

    def redeliveries(self, connection: str) -> dict[str, Any] | None:
        raw = cast("str | None", self.redis.lindex(REDELIVERIES.key(connection), 0))
        return cast("dict[str, Any]", json.loads(raw)) if raw else None

    def push_redelivery(self, connection: str, event: dict[str, Any]) -> None:
        self.redis.rpush(REDELIVERIES.key(connection), json.dumps(event, default=str))

    def redelivered(self, connection: str, counters: tuple[str, ...] = ()) -> None:
        """The first replayed event is dealt with: drop it, reset the failure count and add
        one to each of `counters`, together."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.lpop(REDELIVERIES.key(connection))
        pipe.hset(
            EVENT_DELIVERY.key(connection),
            mapping={"attempts": 0, "first_failure_at": 0, "next_at": 0},
        )
        for name in counters:
            pipe.hincrby(STATS.key(), name, 1)
        pipe.execute()

    # --- worker liveness ----------------------------------------------------------------------
    def mark_worker_alive(self, pid: int, ttl_seconds: int = 30) -> None:
        """Tells `up`, the demo and tests that this worker process is consuming."""
        self.redis.set(WORKERS.key(str(pid)), "ready", ex=ttl_seconds)

    def worker_alive(self, pid: int) -> bool:
        return bool(self.redis.exists(WORKERS.key(str(pid))))

    # --- request budgets ----------------------------------------------------------------------
    def budget_key(self, name: str) -> str:
        """The base key of the shared request budget named `name` (see core.budget)."""
        return BUDGETS.key(name)

    def cursor(self, connection: str) -> float | None:
        raw = self._get(SHOP_CURSORS.key(connection))
        return float(raw) if raw else None

    def set_cursor(self, connection: str, value: float) -> None:
        self.redis.set(SHOP_CURSORS.key(connection), value)

    # --- the due schedule ---------------------------------------------------------------------
    def set_due(self, job_id: str, at: float) -> None:
        """Only the holder of the job's lease (or its creator) sets the time outright."""
        self.redis.zadd(DUE.key(), {job_id: at})

    def bring_due_forward(self, job_id: str, at: float) -> None:
        """Anyone may: the job's wake-up no later than `at` (an unfinished job only)."""
        self.redis.zadd(DUE.key(), {job_id: at}, xx=True, lt=True)

    def clear_due(self, job_id: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrem(DUE.key(), job_id)
        pipe.hdel(SENT.key(), job_id)
        pipe.execute()

    def due_at(self, job_id: str) -> float | None:
        return cast("float | None", self.redis.zscore(DUE.key(), job_id))

    def mark_sent(self, job_id: str, at: float) -> None:
        """When the job's latest message was sent; cleared when a worker takes it."""
        self.redis.hset(SENT.key(), job_id, str(at))

    def sent_at(self, job_ids: list[str]) -> dict[str, float]:
        if not job_ids:
            return {}
        values = cast("list[str | None]", self.redis.hmget(SENT.key(), job_ids))
        return {j: float(v) for j, v in zip(job_ids, values, strict=True) if v is not None}

    def message_taken(self, job_id: str) -> None:
        """A worker took the job's message off its queue (the sweeper stops counting it as
        waiting there)."""
        self.redis.hdel(SENT.key(), job_id)

    def claim_due(self, now: float, hold_until: float, limit: int = 200) -> list[str]:
        """Atomically take the jobs due by `now`, pushing each to `hold_until` so that no other
        sweeper takes the same job again until then."""
        return list(self._claim_due(keys=[DUE.key()], args=[now, hold_until, limit]))

    # --- retention of personal data ----------------------------------------------------------
    def schedule_purge(self, job_id: str, at: float) -> None:
        self.redis.zadd(PURGE.key(), {job_id: at})

    def purge_due(self, now: float, limit: int = 200) -> int:
        """Remove the order (the personal data) from jobs whose retention has run out."""
        ids = cast(
            "list[str]",
            self.redis.zrangebyscore(PURGE.key(), "-inf", now, start=0, num=limit),
        )
        for job_id in ids:
            job = self.load_job(job_id)
            if job is not None and job.order is not None:
                job.order = None
                self.save_job(job)
            self.redis.delete(DOCUMENTS.key(job_id))
            self.redis.zrem(PURGE.key(), job_id)
        return len(ids)

    # --- invoice documents (PDFs an ERP handed back; personal data, kept for the retention) ----
    def put_document(self, job_id: str, pdf: bytes, keep_seconds: float) -> None:
        self.redis.set(
            DOCUMENTS.key(job_id),
            base64.b64encode(pdf).decode(),
            ex=max(1, int(keep_seconds)) + 86_400,
        )

    def document(self, job_id: str) -> bytes | None:
        raw = self._get(DOCUMENTS.key(job_id))
        return base64.b64decode(raw) if raw else None

    # --- locks --------------------------------------------------------------------------------
    def locked(
        self, *parts: str, timeout: float = 30, wait: float = 30
    ) -> AbstractContextManager[None]:
        """Hold a Redis lock around a find-then-create; raises LockError if it can't be had."""
        return self.locked_all(parts[:-1], [parts[-1]], timeout=timeout, wait=wait)

    # --- the job lease and locks taken together -----------------------------------------------
    def take_lease(
        self,
        job_id: str,
        token: str,
        lock_seconds: float,
        wake_at: float,
        load: bool = False,
        message_taken: bool = False,
    ) -> tuple[bool, Job | None]:
        """Take the job's lock and set its wake-up (or only bring the wake-up forward when
        someone else holds it) in one round trip; with `load`, the job comes back too. A lease
        taken is confirmed by the required replicas (which covers the job it loads); if they
        do not, it is let go again and `NotReplicated` raised: no ERP call on an unsure lease.
        With `message_taken` (a step delivery), the job's message is struck off `ob:sent` in
        the same round trip."""
        pipe = self.redis.pipeline(transaction=False)
        self._take_lease(
            keys=[self.lease_key(job_id), DUE.key(), JOBS.key(job_id)],
            args=[token, max(1, int(lock_seconds * 1000)), wake_at, job_id, int(load)],
            client=pipe,
        )
        if message_taken:  # a step delivery: its message is off the queue either way
            pipe.hdel(SENT.key(), job_id)
        replies, confirmed = self.replication.run(pipe)
        reply = replies[0]
        if reply[0]:
            try:
                self.replication.check(confirmed, f"lease on job {job_id}")
            except NotReplicated:
                self.release_locks([self.lease_key(job_id)], token)
                raise
        raw = reply[1] if len(reply) > 1 else None
        return bool(reply[0]), Job.model_validate_json(raw) if raw else None

    def renew_lease(
        self,
        job_id: str,
        token: str,
        lock_seconds: float,
        wake_at: float,
        held: Sequence[str] = (),
    ) -> bool:
        """Push the lease's expiry (and that of the locks in `held`, taken under its token)
        and set the job's wake-up to `wake_at`, in one round trip, if the lease and those locks
        still hold `token`; False if they do not."""
        return bool(
            self._renew_lease(
                keys=[self.lease_key(job_id), DUE.key(), *held],
                args=[token, max(1, int(lock_seconds * 1000)), wake_at, job_id],
            )
        )

    def release_locks(self, keys: list[str], token: str) -> int:
        """Drop the locks in `keys` still held under `token` (an expired one is left alone)."""
        return int(self._unlock_all(keys=keys, args=[token]))

    def lease_key(self, job_id: str) -> str:
        return LOCKS.key("job", job_id)

    def lock_keys(self, scope: tuple[str, ...], names: list[str]) -> list[str]:
        return [LOCKS.key(*scope, name) for name in sorted(set(names))]

    @contextmanager
    def locked_all(
        self,
        scope: tuple[str, ...],
        names: list[str],
        timeout: float = 30,
        wait: float = 30,
        token: str | None = None,
        on_wait: Callable[[], None] | None = None,
    ) -> Iterator[None]:
        """Hold the locks `scope + name` for every name at once (all or none, one round trip
        per try, so two callers with overlapping names can never each hold a part); raises
        LockError when they can't be had within `wait` seconds. `token`: whose they are (a
        job lease's, which renews them: `tasks.lease.Lease.locked`); `on_wait` is called
        between tries."""
        keys = self.lock_keys(scope, names)
        token = token or new_id()
        deadline = time.monotonic() + wait
        while not self._lock_all(keys=keys, args=[token, max(1, int(timeout * 1000))]):
            if time.monotonic() >= deadline:
                raise redis.exceptions.LockError(  # type: ignore[no-untyped-call]
                    f"lock {'/'.join(scope)}/{','.join(names)} busy for {wait}s"
                )
            if on_wait is not None:
                on_wait()
            time.sleep(LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            self.release_locks(keys, token)  # an expired one is left; the work is idempotent

    # --- caches of ERP ids --------------------------------------------------------------------
    def cache_get(self, connection: str, kind: str, key: str) -> dict[str, Any] | None:
        raw = self._get(CACHE.key(connection, kind, key))
        return cast("dict[str, Any]", json.loads(raw)) if raw else None

    def cache_get_many(
        self, connection: str, kind: str, keys: list[str]
    ) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        raws = cast(
            "list[str | None]",
            self.redis.mget([CACHE.key(connection, kind, k) for k in keys]),
        )
        return {k: json.loads(r) for k, r in zip(keys, raws, strict=True) if r}

    def cache_put(
        self,
        connection: str,
        kind: str,
        key: str,
        value: dict[str, Any],
        ttl_seconds: int = 7 * 86_400,
    ) -> None:
        self.redis.set(CACHE.key(connection, kind, key), json.dumps(value), ex=ttl_seconds)

    def cache_put_many(
        self,
        connection: str,
        kind: str,
        values: dict[str, dict[str, Any]],
        ttl_seconds: int = 7 * 86_400,
    ) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for key, value in values.items():
            pipe.set(CACHE.key(connection, kind, key), json.dumps(value), ex=ttl_seconds)
        pipe.execute()

    def cache_drop(self, connection: str, kind: str, keys: list[str]) -> None:
        if keys:
            self.redis.delete(*[CACHE.key(connection, kind, k) for k in keys])

    # --- short-lived access tokens (the only secrets ever in Redis) ---------------------------
    def token_get(self, name: str) -> str | None:
        return self._get(TOKENS.key(name))

    def token_put(self, name: str, value: str, ttl_seconds: float) -> None:
        self.redis.set(TOKENS.key(name), value, px=max(1000, int(ttl_seconds * 1000)))

    # --- dead letters -------------------------------------------------------------------------
    def add_dead_letter(
        self, letter: DeadLetter, job: Job | None = None, fence: Fence | None = None
    ) -> None:
        """Store the letter and (if given; a delivery's letter has none) the dead job together,
        and take the job off the schedule. With `fence`, only while the job's lease is still
        ours (else `LeaseLost`, and neither is written)."""
        if job is None:
            pipe = self.redis.pipeline(transaction=True)
            pipe.set(DEAD_LETTERS.key(letter.id), letter.model_dump_json())
            pipe.zadd(DEAD_LETTER_INDEX.key(), {letter.id: letter.created_at.timestamp()})
            pipe.hincrby(STATS.key(), "dead_letters", 1)
            pipe.execute()
            return
        written = self._bury_job(
            keys=[
                DEAD_LETTERS.key(letter.id),
                DEAD_LETTER_INDEX.key(),
                JOBS.key(job.job_id),
                DUE.key(),
                SENT.key(),
                STATS.key(),
                self.lease_key(job.job_id),
            ],
            args=[
                letter.model_dump_json(),
                letter.id,
                letter.created_at.timestamp(),
                job.job_id,
                job.model_dump_json(),
                fence.token if fence else "",
            ],
        )
        if not written:
            raise LeaseLost(f"job {job.job_id}: the lease is no longer ours; no dead letter")

    def dead_letter(self, letter_id: str) -> DeadLetter | None:
        raw = self._get(DEAD_LETTERS.key(letter_id))
        return DeadLetter.model_validate_json(raw) if raw else None

    def dead_letters(
        self, offset: int = 0, limit: int | None = 100
    ) -> tuple[list[DeadLetter], int]:
        """The letters from `offset` on, oldest first, `limit` of them (None: all there are),
        and how many there are in all."""
        total = cast(int, self.redis.zcard(DEAD_LETTER_INDEX.key()))
        end = -1 if limit is None else offset + limit - 1
        ids = cast("list[str]", self.redis.zrange(DEAD_LETTER_INDEX.key(), offset, end))
        letters: list[DeadLetter] = []
        for start in range(0, len(ids), DEAD_LETTER_CHUNK):
            keys = [DEAD_LETTERS.key(i) for i in ids[start : start + DEAD_LETTER_CHUNK]]
            raws = cast("list[str | None]", self.redis.mget(keys))
            letters.extend(DeadLetter.model_validate_json(r) for r in raws if r)
        return letters, total

    def jobs_in_flight(self) -> int:
        """Jobs not finished (every such job has a place in the due-schedule)."""
        return cast(int, self.redis.zcard(DUE.key()))

    def remove_dead_letter(self, letter_id: str) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(DEAD_LETTERS.key(letter_id))
        pipe.zrem(DEAD_LETTER_INDEX.key(), letter_id)
        return bool(pipe.execute()[0])

    # --- counters for metrics -----------------------------------------------------------------
    def count(self, name: str, amount: int = 1) -> None:
        self.redis.hincrby(STATS.key(), name, amount)

    def counters(self) -> dict[str, int]:
        stats = cast("dict[str, str]", self.redis.hgetall(STATS.key()))
        return {k: int(v) for k, v in stats.items()}

    def ping(self) -> bool:
        return bool(self.redis.ping())
