"""Reconciliation: ask each shop for orders changed since its cursor and feed them through the
same event path as webhooks, so an order whose webhook never came is transferred anyway.

Every worker's sweeper calls `reconcile_due()` each round; a Redis key per connection with the
polling interval as its lifetime makes sure one worker polls each shop once per interval. The
cursor moves to the newest `updated_at` seen, and each poll starts a little before it (overlap),
because shops commit changes out of order; repeats are harmless (the job's reference and the
event's version dedupe them). Refunds an order shows that have no credit job yet are read and
submitted too (`tasks.refunds`), so a refund whose webhook never came is credited anyway; a poll
in which an order's refunds could not be read leaves the cursor where it was, so the next poll
asks for that order again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from connectors.shops.registry import SHOPS
from core.logging import get_logger
from core.runtime import Runtime
from core.store import RECONCILE_CLAIMS
from schemas.shops.errors import MappingError
from tasks.events import apply_event
from tasks.refunds import credit_missing_refunds
from tasks.sources import event_from_shop

log = get_logger("orderbridge.reconcile")
FIRST_LOOKBACK = timedelta(days=1)


def reconcile_due(rt: Runtime) -> int:
    """Poll every shop connection whose interval has passed; returns orders looked at."""
    seen = 0
    for name, conn in rt.settings.connections.items():
        if conn.source not in SHOPS or not conn.shop.api_url:
            continue
        if rt.store.claim_interval(RECONCILE_CLAIMS, name, conn.shop.reconcile_seconds):
            try:
                seen += reconcile(rt, name)
            except Exception as exc:  # a shop that is down is asked again next interval
                log.warning("reconcile.failed", connection=name, error=str(exc))
    return seen


def reconcile(rt: Runtime, name: str) -> int:
    settings, store = rt.settings, rt.store
    conn = settings.connection(name)
    cursor = store.cursor(name)
    start = datetime.fromtimestamp(cursor, UTC) if cursor else datetime.now(UTC) - FIRST_LOOKBACK
    since = start - timedelta(seconds=conn.shop.reconcile_overlap_seconds)
    newest, seen, created = start.timestamp(), 0, 0
    hold: float | None = None  # set when an order's refunds failed: the cursor stays put
    with httpx.Client(timeout=settings.worker.http_timeout_seconds) as client:
        for payload in SHOPS[conn.source].orders_since(conn.shop, since, client, rt.store):
            seen += 1
            try:
                event = event_from_shop(conn.source, payload, conn.shop.fallback_sku)
            except MappingError as exc:
                log.warning(
                    "reconcile.unmappable", connection=name, field=exc.field, error=exc.message
                )
                continue
            decision = apply_event(rt, name, event)
            created += decision.outcome == "accepted"
            try:
                created += credit_missing_refunds(rt, conn, payload, event.order, client)
            except Exception as exc:  # the refund reads are tried again next interval
                log.warning("reconcile.refunds_failed", connection=name, error=str(exc))
                # Keep this order in the next poll: the cursor stays where this poll started,
                # so the next one asks from the same `since` (not earlier: a refund that keeps
                # failing must not walk the cursor back one overlap per poll).
                hold = start.timestamp()
            if event.updated_at:
                newest = max(newest, event.updated_at.timestamp())
    store.set_cursor(name, newest if hold is None else min(newest, hold))
    log.info("reconcile.done", connection=name, seen=seen, created=created)
    return seen
