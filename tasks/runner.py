"""Running one step of one job: lease, ledger, outcome, and what happens next.

Every delivery of a step message goes through `run_step`:
1. take the job's lease (`tasks.lease`); if another delivery, event or replay holds it, this one
   has nothing to do (the holder hands the job on when it is done);
2. load the job; a finished job, a done step or a step that is not current returns at once
   (redelivery is normal), re-enqueueing the current step in case its message was lost;
3. run the step function, record its result in the ledger, go on to the next step;
4. on failure ask `tasks.retries` and either schedule the retry in the due-schedule or write a
   dead letter.
When the store requires replicas (`core.replicas`), the lease, the `sending` mark and a finished
step's result are confirmed by them; one that is not ends the delivery (`Outcome.UNCONFIRMED`)
before any further ERP call, and the job comes back after a backoff.
Every write to the job is fenced by the lease (`core.fencing`), and the lease is renewed before
every ERP request: a delivery that lost its lease (cut off, paused, too slow) stops at once
(`Outcome.LEASE_LOST`), writes nothing more and leaves the job to whoever took it over.
Everything the runner needs comes in a `Runtime` (settings, store, connectors, enqueue), so the
outcomes can be exercised in-process against fakeredis and a fake connector.
Metrics ride along: per-connection counters go in the `counters` of the job's own save, step
run times (and the ERP calls the steps made) are written once when the delivery ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum
from functools import partial

import redis
import structlog

from connectors.errors import (
    ConnectionBlocked,
    ErpError,
    NotYet,
    RateLimited,
    StaleReference,
    TransientError,
    classify,
)
from core import metrics_store as metrics
from core.fencing import LeaseLost
from core.logging import get_logger
from core.replicas import NotReplicated
from core.runtime import (
    Runtime,
    end_delivery,
    reset_heartbeat,
    set_heartbeat,
    start_delivery,
)
from core.store import new_id
from schemas.dead_letter import DeadLetter
from schemas.job import (
    STEPS,
    CustomerResult,
    DraftResult,
    ErrorInfo,
    Job,
    ProductsResult,
    Step,
    utcnow,
)
from tasks import retries
from tasks.lease import Lease
from tasks.preview import preview_job
from tasks.steps import STEP_FUNCTIONS, StepContext, StepDone

log = get_logger("orderbridge.runner")
EARLY_TOLERANCE = timedelta(seconds=1)


class Outcome(StrEnum):
    """What one delivery of a step message did (logged, returned by the task, tested)."""

    ADVANCED = "advanced"  # the step is done; the next one is on its way
    FINISHED = "finished"  # the job reached a final state (done, duplicate)
    BUSY = "busy"  # another delivery, event or replay holds the job
    MISSING = "missing"  # no such job
    FINAL = "final"  # the job had already finished
    NOT_CURRENT = "not_current"  # the job is at another step; that one is enqueued again
    EARLY = "early"  # a retry not yet due; the schedule fires it on time
    RETRY = "retry"  # failed; scheduled again with backoff
    DEAD = "dead"  # failed for good; a dead letter was written
    WAITING = "waiting"  # rate-limited or blocked; waits without counting an attempt
    REFRESH = "refresh"  # the ERP forgot a cached id: back to the upsert step, once
    UNCONFIRMED = "unconfirmed"  # no replica confirmed a write: back later, no ERP call on it
    LEASE_LOST = "lease_lost"  # the lease expired or was taken over: abandoned, nothing written


class _Run:
    """One delivery: the runtime, the lease, the steps to enqueue once the lease is free, and
    the save a finished step still owes (see `_succeeded`)."""

    def __init__(self, rt: Runtime, lease: Lease) -> None:
        self.rt, self.store, self.lease = rt, rt.store, lease
        self.follow_up: list[Step] = []
        self.owed_counters: tuple[str, ...] = ()
        self.owed_order_id: str | None = None
        self.parked = False  # back in the wait set: its slot in flight is already given up
        self.lost = False  # the lease went to another worker, with the job's slot

    def save(self, job: Job, due_at: float) -> None:
        """Save the job with what a finished step still owes (its counters, its ERP order id);
        a finished step's result is confirmed by the required replicas."""
        counters, order_id = self.owed_counters, self.owed_order_id
        self.owed_counters, self.owed_order_id = (), None
        self.lease.save_job(
            job, due_at=due_at, counters=counters, erp_order_id=order_id, confirm=bool(counters)
        )

    def settle(self, job: Job) -> None:
        """Write the save a finished step still owes, if no next step wrote it."""
        if self.owed_counters:
            self.save(job, due_at=time.time() + self.lease.stale_after)


def run_step(rt: Runtime, job_id: str, step: Step) -> Outcome:
    """Run `step` for `job_id` if it is due, and say what happened."""
    return run_step_for_task(rt, job_id, step)[0]


def run_step_for_task(rt: Runtime, job_id: str, step: Step) -> tuple[Outcome, Job | None]:
    """`run_step`, also handing back the job as this delivery left it (for the task's result)."""
    try:
        return _deliver(rt, job_id, Step(step))
    except NotReplicated as exc:
        return _unconfirmed(rt, job_id, exc), None


def _unconfirmed(rt: Runtime, job_id: str, error: NotReplicated) -> Outcome:
    """A write no replica confirmed (the lease, a `sending` mark, a result): the delivery
    stopped there, before any further ERP call, and its lease is let go. The job comes back
    when the schedule says, brought forward to a backoff that grows while confirmations keep
    failing (full jitter, never later than `stale_after`, which the lease had set); like a
    Redis outage, no failure is recorded and it never leads to a dead letter."""
    failures = rt.store.replication.failures_in_a_row
    delay = min(
        retries.backoff_seconds(failures, rt.settings.retry, None),
        rt.settings.worker.stale_after_seconds,
    )
    rt.store.bring_due_forward(job_id, time.time() + delay)
    log.warning("step.unconfirmed", job_id=job_id, error=str(error), delay=round(delay, 2))
    return Outcome.UNCONFIRMED


def _deliver(rt: Runtime, job_id: str, step: Step) -> tuple[Outcome, Job | None]:
    # Taking the lease also strikes the message off `ob:sent`, busy or not (tasks.sweeper).
    lease = Lease(rt.store, job_id, rt.settings.worker.stale_after_seconds, delivery=True)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(job_id=job_id, step=str(step))
    got, job = lease.acquire_and_load()
    if not got:
        log.info("step.busy")  # the wake-up was brought forward; the holder hands on
        return Outcome.BUSY, rt.store.load_job(job_id)
    run = _Run(rt, lease)
    delivery, delivery_token = start_delivery(job is not None and rt.is_urgent(job))
    try:
        if job is None:
            rt.store.clear_due(job_id)
            log.warning("job.missing")
            return Outcome.MISSING, None
        structlog.contextvars.bind_contextvars(connection=job.connection, reference=job.reference)
        rt.running(job_id, job.connection)  # its slot is held while it runs here
        try:
            outcome = _run_loaded(run, job, step)
            outcome = _continue_inline(run, job, outcome)
            run.settle(job)
        except LeaseLost as exc:
            return _abandoned(run, exc), None  # its ledger is the new holder's to show
        return outcome, job
    finally:
        end_delivery(delivery_token)
        rt.running(job_id, None)
        lease.release()
        structlog.contextvars.clear_contextvars()
        # Only after the lease is free: a next step delivered at once must not find it busy.
        for next_step in run.follow_up:
            rt.enqueue(next_step, job_id)
        if job is not None and not run.follow_up and not run.parked and not run.lost:
            # Nothing more to send: its slot goes to the next job admission picks.
            rt.admission.done(
                job.connection, job_id, delivery.calls, erp_answered=delivery.erp_answered is True
            )
        rt.metrics.flush()  # this delivery's step times and ERP calls, in one round trip


def _abandoned(run: _Run, error: LeaseLost) -> Outcome:
    """The lease is gone (the holder was cut off, paused or too slow): whoever took the job
    over owns it now, its schedule and its slot included. Nothing more is written or sent
    from here; a step cut short by this was not recorded, so the new holder runs it again (an
    ERP write under a `sending` mark is looked up first)."""
    run.follow_up.clear()
    run.owed_counters, run.owed_order_id = (), None
    run.lost = True
    log.warning("step.lease_lost", error=str(error))
    return Outcome.LEASE_LOST


def _continue_inline(run: _Run, job: Job, outcome: Outcome) -> Outcome:
    """Run the next steps here while we hold the job's lease, instead of a message each.

    Each step is still recorded in the ledger as it finishes, so a crash between steps resumes
    exactly as before; what is saved is a broker round trip, an ack and the events of a task per
    step (most of a returning customer's cost). Bounded in time, so a message is never held for
    long, and off with `worker.inline_steps = false` (one Celery task per step)."""
    settings = run.rt.settings.worker
    if not settings.inline_steps:
        return outcome
    deadline = time.monotonic() + settings.inline_seconds
    while outcome is Outcome.ADVANCED and run.follow_up and time.monotonic() < deadline:
        step = run.follow_up.pop()
        structlog.contextvars.bind_contextvars(step=str(step))
        outcome = _execute(run, job, step)
    return outcome


def _run_loaded(run: _Run, job: Job, step: Step) -> Outcome:
    if job.is_final:
        run.store.clear_due(job.job_id)
        return Outcome.FINAL
    record = job.step(step)
    if record.state in ("done", "skipped") or job.current_step != step:
        if job.current_step:
            run.follow_up.append(job.current_step)  # its message may have been lost
        return Outcome.NOT_CURRENT
    if (
        record.state == "waiting"
        and record.next_attempt_at
        and record.next_attempt_at - EARLY_TOLERANCE > utcnow()
    ):
        # A duplicate delivery: put the wake-up back where the retry wants it.
        run.store.set_due(job.job_id, record.next_attempt_at.timestamp())
        return Outcome.EARLY
    return _execute(run, job, step)


def _execute(run: _Run, job: Job, step: Step) -> Outcome:
    store, lease, rt = run.store, run.lease, run.rt
    record = job.start_step(step)
    structlog.contextvars.bind_contextvars(attempt=record.attempts)
    run.save(job, due_at=time.time() + lease.stale_after)  # with the step before it, if owed
    log.info("step.start")
    token = set_heartbeat(lease.beat)
    started = time.perf_counter()
    try:
        context = StepContext(
            job=job,
            record=record,
            connector=rt.connector(job.connection),
            store=store,
            save=lambda: lease.save_job(job, confirm=True),  # a mark before an ERP write
            beat=lease.beat,
            lock=lease.locked,
            send_poll_seconds=rt.settings.worker.send_poll_seconds,
            sending_settle_seconds=rt.settings.worker.sending_settle_seconds,
            retention_seconds=rt.settings.retention_days * 86_400,
        )
        done = _step_function(rt, job, step)(context)
    except LeaseLost:
        raise  # not the step's failure: the delivery is abandoned (`_abandoned`)
    except redis.exceptions.LockError as exc:
        return _failed(run, job, step, TransientError(f"busy: {exc}"), from_erp=False)
    except redis.exceptions.RedisError:
        raise  # our own store is down: the message is redelivered, the schedule recovers it
    except Exception as exc:  # every other failure is classified, none is lost
        return _failed(run, job, step, classify(exc))
    finally:
        reset_heartbeat(token)
        rt.metrics.step_ran(job.connection, step, time.perf_counter() - started)
    return _succeeded(run, job, step, done)


def _step_function(rt: Runtime, job: Job, step: Step) -> Callable[[StepContext], StepDone]:
    """The step's work; a connection in preview mode previews the order instead of its first
    step (and the job ends there)."""
    if step is STEPS[0] and rt.settings.connection(job.connection).mode == "preview":
        return partial(preview_job, rt)
    return STEP_FUNCTIONS[step]


def _succeeded(run: _Run, job: Job, step: Step, done: StepDone) -> Outcome:
    job.erp.update({k: v for k, v in done.erp.items() if v is not None})
    order_id = str(done.erp["order_id"]) if done.erp.get("order_id") else None
    job.finish_step(step, done.result)
    run.rt.metrics.unblocked(job.connection)  # it worked: nothing blocks the connection now
    log.info(
        "step.done", **{k: v for k, v in done.result.model_dump().items() if k.endswith("_id")}
    )
    if done.end or job.current_step is None:
        job.end(done.end or "done", done.message)
        run.lease.save_job(
            job,
            due_at=None,
            counters=(
                f"step_done:{step}",
                f"jobs_{job.state}",
                metrics.finished_field(job.connection, job.state),
            ),
            purge_at=_purge_time(run),
            erp_order_id=order_id,
            confirm=True,
        )
        log.info("job.finished", state=job.state)
        return Outcome.FINISHED
    # The next step is enqueued once the lease is free (or run inline); until a worker takes
    # it, the wake-up stays near, so a lost message or a killed worker costs `stale_after`.
    # The save is owed rather than made: run inline, the next step's first save writes both
    # (one round trip less, and no state in between that a crash could leave: the step is
    # done in memory only, as it is between the ERP's answer and any save); otherwise
    # `settle` writes it before the lease is let go.
    run.owed_counters += (f"step_done:{step}",)
    run.owed_order_id = order_id or run.owed_order_id
    run.follow_up.append(job.current_step)
    return Outcome.ADVANCED


def _failed(run: _Run, job: Job, step: Step, error: ErpError, from_erp: bool = True) -> Outcome:
    store, settings = run.store, run.rt.settings
    record = job.step(step)
    info = ErrorInfo(
        kind=error.kind,
        message=error.message,
        erp_status=error.erp_status,
        erp_response=error.erp_response,
    )
    if isinstance(error, (RateLimited, ConnectionBlocked, NotYet)):
        return _wait_without_failing(run, job, step, error, info)
    if isinstance(error, StaleReference) and not getattr(
        record.read(DraftResult), f"refreshed_{error.what}", False
    ):
        return _refresh_and_resume(run, job, step, error, info)
    decision = retries.decide(
        error, record.attempts, job.first_failure_at, utcnow(), settings.retry
    )
    if (
        isinstance(decision, retries.Retry)
        and from_erp
        and _looks_like_outage(error)
        and run.rt.admission.outage(job.connection)
    ):
        return _park_in_outage(run, job, step, error, info)
    if isinstance(decision, retries.Retry):
        job.fail_attempt(step, info, decision.at)
        run.lease.save_job(
            job,
            due_at=decision.at.timestamp(),
            counters=("retries", metrics.retried_field(job.connection)),
        )
        log.warning(
            "step.retry",
            kind=error.kind,
            error=error.message,
            erp_status=error.erp_status,
            delay=round(decision.delay, 2),
        )
        return Outcome.RETRY
    letter = DeadLetter(
        id=new_id(),
        job_id=job.job_id,
        connection=job.connection,
        external_id=job.external_id,
        reference=job.reference,
        step=step,
        kind=error.kind,
        reason=decision.reason,
        message=error.message,
        erp_status=error.erp_status,
        erp_response=error.erp_response,
        attempts=record.attempts,
        first_failure_at=job.first_failure_at,
    )
    job.kill(step, info, letter.id)
    store.add_dead_letter(letter, job, fence=run.lease.fence)
    run.rt.metrics.count(metrics.finished_field(job.connection, "dead"))
    store.schedule_purge(job.job_id, _purge_time(run))
    log.error(
        "dlq.added",
        dead_letter_id=letter.id,
        reason=decision.reason,
        kind=error.kind,
        error=error.message,
        erp_status=error.erp_status,
    )
    return Outcome.DEAD


def _looks_like_outage(error: ErpError) -> bool:
    """No answer, or a 5xx: the ERP itself is in trouble, not this order."""
    return error.kind in ("transient", "ambiguous") and (
        error.erp_status is None or error.erp_status >= 500
    )


def _park_in_outage(run: _Run, job: Job, step: Step, error: ErpError, info: ErrorInfo) -> Outcome:
    """The connection's breaker is open: the attempt counts, but instead of a backoff of its
    own the job goes back to its place in the wait set (oldest first), where admission lets
    one probe through at a time until the ERP answers again; then the backlog drains at the
    budget's pace, in order, without a burst."""
    job.fail_attempt(step, info, utcnow())
    run.lease.save_job(job, counters=("retries", metrics.retried_field(job.connection)))
    run.rt.submit(job)
    run.parked = True
    log.warning(
        "step.parked",
        kind=error.kind,
        error=error.message,
        erp_status=error.erp_status,
        reason="erp_outage",
    )
    return Outcome.RETRY


def _wait_without_failing(
    run: _Run, job: Job, step: Step, error: ErpError, info: ErrorInfo
) -> Outcome:
    """Budget used up or connection blocked: come back later; no attempt counted, no dead
    letter, however long it takes."""
    record = job.step(step)
    record.attempts -= 1
    delay = max(1.0, error.retry_after or 60.0)
    first_failure = job.first_failure_at
    job.fail_attempt(step, info, utcnow() + timedelta(seconds=delay))
    job.first_failure_at = first_failure
    reason = (
        "rate_limited"
        if isinstance(error, RateLimited)
        else "not_yet"
        if isinstance(error, NotYet)
        else "blocked"
    )
    counter = "original_waits" if reason == "not_yet" else f"{reason}_waits"
    run.lease.save_job(
        job,
        due_at=time.time() + delay,
        counters=(counter, metrics.waited_field(job.connection, reason)),
    )
    if reason == "blocked":
        run.rt.metrics.blocked(job.connection, until=time.time() + delay)
    log.info("step.waiting", reason=error.message, delay=round(delay, 2))
    return Outcome.WAITING


def _refresh_and_resume(
    run: _Run, job: Job, step: Step, error: StaleReference, info: ErrorInfo
) -> Outcome:
    """Forget the cached ids the ERP no longer knows and go back to the upsert step, once."""
    target = Step.UPSERT_CUSTOMER if error.what == "customer" else Step.UPSERT_PRODUCTS
    upsert = job.step(target)
    if target is Step.UPSERT_CUSTOMER:
        stale = [upsert.read(CustomerResult).customer_key or ""]
    else:
        stale = list(upsert.read(ProductsResult).products)
    run.store.cache_drop(job.connection, error.what, [k for k in stale if k])
    record = job.step(step)
    record.record(DraftResult.model_validate({f"refreshed_{error.what}": True}))
    record.state, record.last_error = "pending", info
    upsert.state, upsert.result = "pending", {}
    job.current_step = target
    job.touch()
    run.lease.save_job(job, due_at=time.time() + run.lease.stale_after)
    run.follow_up.append(target)
    log.warning("step.stale_reference", what=error.what, error=error.message, resume_at=target)
    return Outcome.REFRESH


def _purge_time(run: _Run) -> float:
    return time.time() + run.rt.settings.retention_days * 86_400
