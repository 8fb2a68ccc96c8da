"""Delivering invoice events to the connection's webhook: signed, in order, retried, never lost.

One deliverer per connection at a time (a Redis lock), taking events from the connection's stream
in order after its cursor. A 2xx moves the cursor; a failure (no answer, or any other status)
schedules the same event again with exponential backoff, holding back the ones after it so the
subscriber sees a state's changes in order. An event that keeps failing for longer than
`give_up_after_seconds` becomes a dead letter of kind `delivery` (which the operator replays
like any other) and the events after it go on. Replayed events are sent before the stream.

The body is the event's JSON; `X-Orderbridge-Signature: sha256=<hex HMAC-SHA256 of the raw
body with the webhook secret>`. Delivery is at least once: the stable `id` lets a subscriber
drop the rare repeat (a worker killed between the subscriber's 2xx and our cursor write).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import redis

from core.logging import get_logger
from core.runtime import Runtime
from core.settings import EventsSettings
from core.store import new_id
from schemas.dead_letter import DeadLetter

log = get_logger("orderbridge.delivery")
SIGNATURE_HEADER = "X-Orderbridge-Signature"
BATCH = 50


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver_due(rt: Runtime, client: httpx.Client) -> int:
    """Deliver what is due for every connection with a webhook; returns events delivered."""
    delivered = 0
    for name, conn in rt.settings.connections.items():
        if conn.events is None or not conn.events.webhook_url:
            continue
        try:
            with rt.store.locked(
                "delivery", name, timeout=conn.events.timeout_seconds * 2 + 30, wait=0
            ):
                try:
                    delivered += deliver(rt, name, conn.events, client)
                except Exception as exc:  # our Redis away for a moment: next round
                    log.warning("delivery.failed_round", connection=name, error=str(exc))
        except redis.exceptions.LockError:
            continue  # another worker is delivering this connection's events
    return delivered


def deliver(rt: Runtime, connection: str, events: EventsSettings, client: httpx.Client) -> int:
    """Send due events in order (replays first, then up to `BATCH` from the stream) until one
    fails or none is left; returns how many arrived."""
    store = rt.store
    state = store.delivery_state(connection)
    if float(state.get("next_at") or 0) > time.time():
        return 0
    sent = 0
    while (replayed := store.redeliveries(connection)) is not None:
        outcome = _attempt(rt, connection, events, client, replayed, state)
        if outcome == LATER:
            return sent
        store.redelivered(connection, counters=_counted(outcome))
        state = {"cursor": state.get("cursor") or "0"}  # the failure count starts again
        sent += outcome == SENT
    for stream_id, event in store.events_after(connection, state.get("cursor") or "0", count=BATCH):
        outcome = _attempt(rt, connection, events, client, event, state)
        if outcome == LATER:
            return sent
        # past this entry, the failure count reset, and the delivery counted, in one write
        store.set_delivery_state(
            connection,
            counters=_counted(outcome),
            cursor=stream_id,
            attempts=0,
            first_failure_at=0,
            next_at=0,
        )
        state = {"cursor": stream_id}
        sent += outcome == SENT
    return sent


SENT, GAVE_UP, LATER = "sent", "gave_up", "later"


def _counted(outcome: str) -> tuple[str, ...]:
    """The counters the write that records `outcome` adds to."""
    return ("events_delivered",) if outcome == SENT else ()


def _attempt(
    rt: Runtime,
    connection: str,
    events: EventsSettings,
    client: httpx.Client,
    event: dict[str, Any],
    state: dict[str, str],
) -> str:
    """POST one event: SENT, GAVE_UP (now a dead letter) or LATER (retry scheduled). What
    moves past a sent event also counts it (`_counted`)."""
    error = _post(events, client, event)
    if error is None:
        log.info(
            "delivery.sent", connection=connection, event_id=event.get("id"), type=event.get("type")
        )
        return SENT
    now = time.time()
    attempts = int(state.get("attempts") or 0) + 1
    first = float(state.get("first_failure_at") or 0) or now
    if now - first >= events.give_up_after_seconds:
        _dead_letter(rt, connection, event, error, attempts, first)
        return GAVE_UP
    delay = min(events.retry_cap_seconds, events.retry_base_seconds * 2 ** (attempts - 1))
    rt.store.set_delivery_state(
        connection, attempts=attempts, first_failure_at=first, next_at=now + delay
    )
    log.warning(
        "delivery.retry",
        connection=connection,
        event_id=event.get("id"),
        error=error,
        attempt=attempts,
        delay=round(delay, 2),
    )
    return LATER


def _post(events: EventsSettings, client: httpx.Client, event: dict[str, Any]) -> str | None:
    """The error, or None when the subscriber took the event (any 2xx)."""
    body = json.dumps(event, separators=(",", ":"), default=str).encode()
    secret = events.webhook_secret.get_secret_value() if events.webhook_secret else ""
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, body),
        "X-Orderbridge-Event-Id": str(event.get("id")),
        "X-Orderbridge-Event-Type": str(event.get("type")),
    }
    try:
        response = client.post(
            str(events.webhook_url), content=body, headers=headers, timeout=events.timeout_seconds
        )
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"the subscriber answered {response.status_code}"


def _dead_letter(
    rt: Runtime,
    connection: str,
    event: dict[str, Any],
    error: str,
    attempts: int,
    first_failure: float,
) -> None:
    letter = DeadLetter(
        id=new_id(),
        job_id=str(event.get("job_id") or ""),
        connection=connection,
        external_id=str(event.get("external_id") or ""),
        reference=str(event.get("reference") or ""),
        kind="delivery",
        reason=f"the webhook kept failing for {time.time() - first_failure:.0f} s "
        f"({attempts} attempts)",
        message=f"{event.get('type')} {event.get('invoice_number')}: {error}",
        attempts=attempts,
        first_failure_at=datetime.fromtimestamp(first_failure, UTC),
        event=event,
    )
    rt.store.add_dead_letter(letter)
    log.error(
        "dlq.added",
        dead_letter_id=letter.id,
        kind="delivery",
        connection=connection,
        event_id=event.get("id"),
        error=error,
    )


def replay(rt: Runtime, letter: DeadLetter) -> None:
    """Send a dead-lettered event again (before the rest of the stream)."""
    if letter.event is None:
        raise ValueError(f"dead letter {letter.id} holds no event")
    rt.store.push_redelivery(letter.connection, letter.event)
    rt.store.set_delivery_state(letter.connection, attempts=0, first_failure_at=0, next_at=0)
