"""Running one step of one job: lease, ledger, outcome, and what happens next.

Every delivery of a step message goes through `run_step`:
1. take the job's lease (a Redis lock that the heartbeat keeps alive); if another delivery holds
   it, this one has nothing to do;
2. load the job; a finished job, a done step or a step that is not current returns at once
   (redelivery is normal), re-enqueueing the current step in case its message was lost;
3. run the step function, record its result in the ledger, enqueue the next step;
4. on failure ask `tasks.retries` and either schedule the retry in the due-schedule or write a
   dead letter.
"""

from __future__ import annotations

import time
from datetime import timedelta

import redis
import structlog

from connectors.errors import (
    ConnectionBlocked,
    ErpError,
    RateLimited,
    StaleReference,
    TransientError,
    classify,
)
from schemas.dead_letter import DeadLetter
from schemas.job import ErrorInfo, Job, utcnow
from tasks import retries
from tasks.steps import STEP_FUNCTIONS, StepContext, StepOutcome
from workers import runtime
from workers.logging import get_logger
from workers.queue import enqueue
from workers.settings import get_settings
from workers.store import Store, new_id

log = get_logger("orderbridge.runner")
BEAT_EVERY_SECONDS = 2.0
EARLY_TOLERANCE = timedelta(seconds=1)


class Lease:
    """The job's lock plus its place in the due-schedule, renewed while the step works."""

    def __init__(self, store: Store, job_id: str, stale_after: float) -> None:
        self.store = store
        self.job_id = job_id
        self.stale_after = stale_after
        # The lock expires sooner than the schedule fires, so a redelivery after a crash finds
        # the lock free.
        self.lock = store.lock("job", job_id, timeout=stale_after * 0.6)
        self._last_beat = 0.0

    def acquire(self) -> bool:
        return bool(self.lock.acquire(blocking=False))

    def beat_later(self) -> None:
        """The lock was just taken or extended and the schedule just written: next beat later."""
        self._last_beat = time.monotonic()

    def beat(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_beat < BEAT_EVERY_SECONDS:
            return
        self._last_beat = now
        try:
            self.lock.extend(self.stale_after * 0.6, replace_ttl=True)
        except redis.exceptions.LockError:
            pass  # lost it: a sweeper may rerun the step; the ledger keeps that harmless
        self.store.set_due(self.job_id, time.time() + self.stale_after)

    def release(self) -> None:
        try:
            self.lock.release()
        except redis.exceptions.LockError:
            pass


def run_step(job_id: str, step: str) -> str:
    """Run `step` for `job_id` if it is due; returns a word saying what happened (for logs)."""
    settings = get_settings()
    store = runtime.store()
    lease = Lease(store, job_id, settings.worker.stale_after_seconds)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(job_id=job_id, step=step)
    if not lease.acquire():
        # Another delivery is working on this job; make sure we look again if it dies.
        store.redis.zadd(store.key("due"), {job_id: time.time() + lease.stale_after}, lt=True)
        log.info("step.busy")
        return "busy"
    follow_up: list[str] = []
    try:
        job = store.load_job(job_id)
        if job is None:
            log.warning("job.missing")
            return "missing"
        structlog.contextvars.bind_contextvars(connection=job.connection, reference=job.reference)
        outcome = _run_loaded(store, lease, job, step, follow_up)
        return _continue_inline(store, lease, job, outcome, follow_up)
    finally:
        lease.release()
        structlog.contextvars.clear_contextvars()
        # Only after the lease is free: a next step delivered at once must not find it busy.
        for next_step in follow_up:
            enqueue(next_step, job_id)


def _continue_inline(store: Store, lease: Lease, job: Job, outcome: str,
                     follow_up: list[str]) -> str:
    """Run the next steps here while we hold the job's lease, instead of a message each.

    Each step is still recorded in the ledger as it finishes, so a crash between steps resumes
    exactly as before; what is saved is a broker round trip, an ack and the events of a task per
    step (most of a returning customer's cost). Bounded in time, so a message is never held for
    long, and off with `worker.inline_steps = false` (one Celery task per step)."""
    settings = get_settings().worker
    if not settings.inline_steps:
        return outcome
    deadline = time.monotonic() + settings.inline_seconds
    while outcome == "advanced" and follow_up and time.monotonic() < deadline:
        step = follow_up.pop()
        structlog.contextvars.bind_contextvars(step=step)
        outcome = _execute(store, lease, job, step, follow_up)
    return outcome


def _run_loaded(store: Store, lease: Lease, job: Job, step: str, follow_up: list[str]) -> str:
    if job.is_final:
        store.clear_due(job.job_id)
        return "final"
    record = job.step(step)
    if record.state in ("done", "skipped") or job.current_step != step:
        if job.current_step:
            follow_up.append(job.current_step)  # its message may have been lost
        return "not_current"
    if record.state == "waiting" and record.next_attempt_at and \
            record.next_attempt_at - EARLY_TOLERANCE > utcnow():
        return "early"  # a duplicate delivery; the due-schedule fires the retry on time
    return _execute(store, lease, job, step, follow_up)


def _execute(store: Store, lease: Lease, job: Job, step: str, follow_up: list[str]) -> str:
    settings = get_settings()
    record = job.start_step(step)
    structlog.contextvars.bind_contextvars(attempt=record.attempts)
    store.save_job(job, due_at=time.time() + lease.stale_after)
    lease.beat_later()
    log.info("step.start")
    token = runtime.set_heartbeat(lease.beat)
    try:
        context = StepContext(job=job, record=record, connector=runtime.connector(job.connection),
                              store=store, save=lambda: store.save_job(job), beat=lease.beat,
                              send_poll_seconds=settings.worker.send_poll_seconds)
        outcome = STEP_FUNCTIONS[step](context)
    except redis.exceptions.LockError as exc:
        return _failed(store, job, step, TransientError(f"busy: {exc}"), follow_up)
    except redis.exceptions.RedisError:
        raise  # our own store is down: the message is redelivered, the schedule recovers it
    except Exception as exc:  # every other failure is classified, none is lost
        return _failed(store, job, step, classify(exc), follow_up)
    finally:
        runtime.reset_heartbeat(token)
    return _succeeded(store, job, step, outcome, follow_up)


def _succeeded(store: Store, job: Job, step: str, outcome: StepOutcome,
               follow_up: list[str]) -> str:
    job.erp.update({k: v for k, v in outcome.erp.items() if v is not None})
    job.finish_step(step, outcome.result)
    log.info("step.done", **{k: v for k, v in outcome.result.items() if k.endswith("_id")})
    if outcome.end or job.current_step is None:
        job.end(outcome.end or "done", outcome.message)  # type: ignore[arg-type]
        store.save_job(job, due_at=None, counters=(f"step_done:{step}", f"jobs_{job.state}"),
                       purge_at=time.time() + get_settings().retention_days * 86_400)
        log.info("job.finished", state=job.state)
        return job.state
    store.save_job(job, due_at=time.time() + get_settings().worker.queued_stale_after_seconds,
                   counters=(f"step_done:{step}",))
    follow_up.append(job.current_step)
    return "advanced"


def _failed(store: Store, job: Job, step: str, error: ErpError, follow_up: list[str]) -> str:
    settings = get_settings()
    record = job.step(step)
    info = ErrorInfo(kind=error.kind, message=error.message, erp_status=error.erp_status,
                     erp_response=error.erp_response)  # type: ignore[arg-type]
    if isinstance(error, (RateLimited, ConnectionBlocked)):
        return _wait_without_failing(store, job, step, error, info)
    if isinstance(error, StaleReference) and not record.result.get(f"refreshed_{error.what}"):
        return _refresh_and_resume(store, job, step, error, info, follow_up)
    decision = retries.decide(error, record.attempts, job.first_failure_at, utcnow(),
                              settings.retry)
    if isinstance(decision, retries.Retry):
        job.fail_attempt(step, info, decision.at)
        store.save_job(job)
        store.set_due(job.job_id, decision.at.timestamp())
        store.count("retries")
        log.warning("step.retry", kind=error.kind, error=error.message,
                    erp_status=error.erp_status, delay=round(decision.delay, 2))
        return "retry"
    letter = DeadLetter(id=new_id(), job_id=job.job_id, connection=job.connection,
                        external_id=job.external_id, reference=job.reference, step=step,
                        kind=error.kind, reason=decision.reason, message=error.message,
                        erp_status=error.erp_status, erp_response=error.erp_response,
                        attempts=record.attempts, first_failure_at=job.first_failure_at)
    job.kill(step, info, letter.id)
    store.add_dead_letter(letter, job)
    _schedule_purge(store, job)
    log.error("dlq.added", dead_letter_id=letter.id, reason=decision.reason, kind=error.kind,
              error=error.message, erp_status=error.erp_status)
    return "dead"


def _wait_without_failing(store: Store, job: Job, step: str, error: ErpError,
                          info: ErrorInfo) -> str:
    """Budget used up or connection blocked: come back later; no attempt counted, no dead
    letter, however long it takes."""
    record = job.step(step)
    record.attempts -= 1
    delay = max(1.0, error.retry_after or 60.0)
    first_failure = job.first_failure_at
    job.fail_attempt(step, info, utcnow() + timedelta(seconds=delay))
    job.first_failure_at = first_failure
    store.save_job(job)
    store.set_due(job.job_id, time.time() + delay)
    store.count("rate_limited_waits" if isinstance(error, RateLimited) else "blocked_waits")
    log.info("step.waiting", reason=error.message, delay=round(delay, 2))
    return "waiting"


def _refresh_and_resume(store: Store, job: Job, step: str, error: StaleReference,
                        info: ErrorInfo, follow_up: list[str]) -> str:
    """Forget the cached ids the ERP no longer knows and go back to the upsert step, once."""
    target = "upsert_customer" if error.what == "customer" else "upsert_products"
    upsert = job.step(target)
    if target == "upsert_customer":
        stale = [upsert.result.get("customer_key", "")]
    else:
        stale = list(upsert.result.get("products", {}))
    store.cache_drop(job.connection, error.what, [k for k in stale if k])
    record = job.step(step)
    record.result[f"refreshed_{error.what}"] = True
    record.state, record.last_error = "pending", info
    upsert.state, upsert.result = "pending", {}
    job.current_step = target
    job.touch()
    store.save_job(job)
    store.set_due(job.job_id, time.time() + get_settings().worker.queued_stale_after_seconds)
    follow_up.append(target)
    log.warning("step.stale_reference", what=error.what, error=error.message, resume_at=target)
    return "refresh"


def _schedule_purge(store: Store, job: Job) -> None:
    store.schedule_purge(job.job_id, time.time() + get_settings().retention_days * 86_400)
