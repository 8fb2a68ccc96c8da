"""Backfill: the orders a shop took in a period, read from its API and submitted as its webhooks
would be, once, alongside live webhooks and reconciliation, resumable after any interruption.

Each order goes through the one door (`tasks.sources.event_from_shop`, `tasks.events.
apply_event`), so the job per connection and shop order id dedupes it against a webhook or a
reconciliation poll arriving at the same moment, and the pipeline's duplicate check finds an
order that was in the ERP before orderbridge. A dry run previews each order instead
(`tasks.preview`): nothing goes to the ERP or the job ledger.

Progress lives in Redis (`tasks.backfill_progress`): after each page, the cursor of the next;
per order, its outcome, counted once. A run that is killed leaves its cursor at the last page
it finished; started again with the same arguments it asks for that page again, skips the
orders that have outcomes and handles the rest. Shop and ERP hiccups (timeouts, 5xx, 429) are
waited out a few times; a failure that persists stops the run as `failed`, to be started
again later.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import httpx

from connectors.errors import classify
from connectors.registry import CONNECTORS
from connectors.shops.created import CreatedOrders
from connectors.shops.registry import SHOPS
from core.logging import get_logger
from core.runtime import Runtime
from schemas.backfill import BackfillProgress
from schemas.shops.errors import MappingError
from tasks.backfill_progress import LEASE_SECONDS, PENDING, Busy, Progress, new_token, run_id
from tasks.events import OrderEvent, apply_event
from tasks.preview import preview
from tasks.sources import event_from_shop

log = get_logger("orderbridge.backfill")
T = TypeVar("T")
ATTEMPTS = 6  # a transient failure is tried this often before the run stops as `failed`
WAIT_MAX = 30.0
Outcome = tuple[str, str | None, str | None]  # (new | known | refused, reason, verdict)
Sleep = Callable[[float], None]
OnProgress = Callable[[BackfillProgress], None]


class CannotBackfill(ValueError):
    """The arguments or the connection do not allow a backfill (no shop API, empty period)."""


class LeaseLost(Exception):
    """Another process took the backfill over (this one stalled longer than the lease)."""


@dataclass(frozen=True)
class BackfillArgs:
    connection: str
    since: datetime
    until: datetime | None = None  # None: until the backfill first starts
    dry_run: bool = False

    @property
    def id(self) -> str:
        return run_id(self.since, self.until, self.dry_run)


@dataclass
class Run:
    """A backfill this process holds the lease of."""

    rt: Runtime
    args: BackfillArgs
    progress: Progress
    token: str
    since: datetime
    until: datetime
    finished: bool  # done before: nothing to run
    renewed: float = 0.0


def begin(rt: Runtime, args: BackfillArgs, fresh: bool = False, wait: float = 0.0) -> Run:
    """Take the backfill's lease (waiting up to `wait` s for another holder) and its record, a
    new one or the one the same arguments made before (`fresh`: forget that one). Raises
    `CannotBackfill`, `Busy`, and ConfigError for an unknown connection."""
    conn = rt.settings.connection(args.connection)
    if conn.source not in SHOPS or not conn.shop.api_url:
        raise CannotBackfill(
            f"connection {args.connection!r} has no shop API to read orders from "
            f"(source one of {', '.join(sorted(SHOPS))}, and shop.api_url)"
        )
    if args.dry_run and CONNECTORS[conn.erp].stand_in is None:
        raise CannotBackfill(f"{conn.erp} has no dry run yet: backfill without --dry-run")
    progress = Progress(rt.store, args.connection, args.id)
    token = new_token()
    progress.take_lease(token, wait)
    try:
        if fresh:
            progress.forget()
        meta = progress.meta()
        if not meta:
            until = args.until or datetime.now(UTC)
            if until <= args.since:
                raise CannotBackfill("the period is empty: `until` must come after `since`")
            oldest_first = SHOPS[conn.source].created_oldest_first(conn.shop)
            progress.create(args.since, until, args.dry_run, oldest_first)
            meta = progress.meta()
        elif meta.get("state") != "done":
            progress.update(state="running", error="")
    except BaseException:
        progress.drop_lease(token)
        raise
    since = datetime.fromtimestamp(float(meta["since"]), UTC)
    until = datetime.fromtimestamp(float(meta["until"]), UTC)
    done = meta.get("state") == "done"
    return Run(rt, args, progress, token, since, until, done, time.monotonic())


def carry_on(
    run: Run, on_progress: OnProgress | None = None, sleep: Sleep = time.sleep
) -> BackfillProgress | None:
    """Run the backfill from where it stands to its end, then let go of the lease. A failure
    stops it as `failed` (and is not raised: the progress says it). Returns the progress."""
    progress, name = run.progress, run.args.connection
    try:
        if not run.finished:
            _pages(run, on_progress, sleep)
            progress.update(state="done", finished_at=str(time.time()))
            log.info("backfill.done", connection=name, backfill=progress.id)
    except LeaseLost:
        log.warning("backfill.lease_lost", connection=name, backfill=progress.id)
    except Exception as exc:  # stopped, resumable: the progress records why
        log.warning("backfill.failed", connection=name, backfill=progress.id, error=str(exc))
        progress.update(state="failed", error=f"{type(exc).__name__}: {exc}"[:1000])
    finally:
        progress.drop_lease(run.token)
    return progress.view()


def start_in_background(run: Run) -> threading.Thread:
    """`carry_on` in a thread of this process (the operator API's way)."""
    thread = threading.Thread(
        target=carry_on, args=(run,), name=f"backfill-{run.args.connection}", daemon=True
    )
    thread.start()
    return thread


def _pages(run: Run, on_progress: OnProgress | None, sleep: Sleep) -> None:
    rt, conn = run.rt, run.rt.settings.connection(run.args.connection)

    def pause(seconds: float) -> None:  # a wait for the shop or the ERP keeps the lease
        sleep(seconds)
        _keep_lease(run, force=True)

    meta = run.progress.meta()
    if meta.get("listed") == "1":
        return  # the last page was done; the run stopped before it said so
    cursor = meta.get("cursor") or None
    with httpx.Client(timeout=rt.settings.worker.http_timeout_seconds) as client:
        lister: CreatedOrders = SHOPS[conn.source].orders_created(
            conn.shop, run.since, run.until, client, rt.store
        )
        while True:
            page = patiently(partial(lister.page, cursor), pause)
            position = _orders(run, page.orders, pause)
            run.progress.page_done(page.next, position)
            _keep_lease(run, force=True)
            if on_progress is not None:
                view = run.progress.view()
                if view is not None:
                    on_progress(view)
            if page.next is None:
                return
            cursor = page.next


def _orders(run: Run, payloads: list[Any], sleep: Sleep) -> float | None:
    """Handle a page's orders; returns the creation time of its last (epoch seconds)."""
    ids = [order_key(payload) for payload in payloads]
    entries, mark = run.progress.mark_pending(ids)
    position = None
    for order_id, payload in zip(ids, payloads, strict=True):
        position = created_epoch(payload) or position
        entry = entries.get(order_id, mark)
        if not entry.startswith(PENDING):
            continue  # it has its outcome (an earlier run, or a repeat on the page)
        # a mark left by an earlier run: the job found may be the one it made
        earlier = float(entry[len(PENDING) :]) if entry != mark else None
        handle = _preview_one if run.args.dry_run else _submit_one
        outcome, reason, verdict = patiently(partial(handle, run, payload, earlier), sleep)
        run.progress.record_outcome(order_id, outcome, reason, verdict)
        _keep_lease(run)
    return position


def _submit_one(run: Run, payload: Any, earlier: float | None) -> Outcome:
    """Submit the order as its webhook would be."""
    rt, name = run.rt, run.args.connection
    event = _event(run, payload)
    if isinstance(event, str):
        return "refused", event, None
    decision = apply_event(rt, name, event)
    if decision.outcome == "accepted":
        return "new", None, None
    if decision.job_id is None:
        reason = (
            "cancelled in the shop before it was transferred"
            if decision.outcome == "cancelled"
            else decision.detail or decision.outcome
        )
        return "refused", reason, None
    if earlier is not None:
        job = rt.store.load_job(decision.job_id)
        if job is not None and job.created_at.timestamp() >= earlier:
            return "new", None, None  # made by the run that was interrupted
    return "known", None, None


def _preview_one(run: Run, payload: Any, earlier: float | None) -> Outcome:
    """What submitting the order would do, with nothing written (`tasks.preview`)."""
    rt, name = run.rt, run.args.connection
    event = _event(run, payload)
    if isinstance(event, str):
        return "refused", event, None
    if rt.store.job_id_for(name, event.order_id) is not None and not _goes_live(run, event):
        return "known", None, None
    if event.cancelled:
        return "refused", "cancelled in the shop before it was transferred", None
    if event.order is None:
        return "refused", "no order body to create a job from", None
    order = event.order
    if event.paid and rt.settings.connection(name).invoice_on_payment:
        order = order.model_copy(update={"send_invoice": True})
    try:
        report = preview(rt, name, order)
    except ValueError as exc:  # what a dry run does not cover
        return "refused", str(exc), None
    if report.verdict == "would_refuse":
        first = report.refusals[0] if report.refusals else None
        reason = f"{first.step}: {first.message}" if first else "refused"
        return "refused", reason, report.verdict
    return "new", None, report.verdict


def _goes_live(run: Run, event: OrderEvent) -> bool:
    """A job previewed while the connection was in preview mode is sent by its next event."""
    name = run.args.connection
    live = run.rt.settings.connection(name).mode == "live"
    return live and run.rt.store.was_previewed(name, event.order_id)


def _event(run: Run, payload: Any) -> OrderEvent | str:
    """The order event of a shop payload, or why there is none (a refusal's reason)."""
    conn = run.rt.settings.connection(run.args.connection)
    try:
        event = event_from_shop(conn.source, payload, conn.shop.fallback_sku)
    except MappingError as exc:
        return f"unmappable: {exc}"
    return "checkout draft" if event.draft else event


def patiently(call: Callable[[], T], sleep: Sleep) -> T:
    """`call()`, tried again after a transient failure (the shop or the ERP busy or away),
    waiting as it asks (Retry-After) or a little longer each time; then the failure is raised."""
    for attempt in range(ATTEMPTS):
        try:
            return call()
        except Exception as exc:
            error = classify(exc)
            if error.kind != "transient" or attempt == ATTEMPTS - 1:
                raise
            sleep(min(error.retry_after or 2.0**attempt, WAIT_MAX))
    raise AssertionError("unreachable")


def _keep_lease(run: Run, force: bool = False) -> None:
    if not force and time.monotonic() - run.renewed < LEASE_SECONDS / 3:
        return
    if not run.progress.renew_lease(run.token):
        raise LeaseLost(run.progress.id)
    run.renewed = time.monotonic()


def order_key(payload: Any) -> str:
    """The shop's order id (both shops call it `id`), or a digest of a payload without one."""
    if isinstance(payload, dict) and isinstance(payload.get("id"), int | str):
        return str(payload["id"])[:64]
    raw = json.dumps(payload, sort_keys=True, default=str).encode()
    return f"no-id-{hashlib.sha256(raw).hexdigest()[:16]}"


def created_epoch(payload: Any) -> float | None:
    """When the shop says the order was created (Shopify `created_at`, WooCommerce
    `date_created_gmt`), as epoch seconds; None when it does not say in a readable way."""
    if not isinstance(payload, dict):
        return None
    raw = payload.get("created_at") or payload.get("date_created_gmt")
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


__all__ = ["BackfillArgs", "Busy", "CannotBackfill", "begin", "carry_on", "start_in_background"]
