"""Webhook sending for the shop simulators: signed POSTs in the background, every attempt kept.

A shop delivers webhooks after the fact, from a queue, while the merchant's request has long been
answered; so do we: `Outbox.queue` records the attempt as pending and sends it in a task on the
server's event loop. Tests cannot await that task, so each attempt stays visible in
`GET /_sim/deliveries` with its outcome (`pending`, `delivered`, `failed`), the status answered
and the error, and `pending` counts what is still in flight: tests poll it with a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

RESPONSE_KEPT = 2000
DeliveryDone = Callable[["Delivery"], None]


def signature(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, raw body)): both shops sign this way."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Delivery:
    """One POST of a webhook (or a WooCommerce ping) to one address."""

    seq: int
    kind: str  # "webhook" or "ping"
    topic: str
    address: str
    headers: dict[str, str]
    body: bytes
    webhook_id: str  # Shopify: X-Shopify-Webhook-Id; WooCommerce: the webhook's id
    order_id: str | None = None
    redelivery_of: int | None = None
    state: str = "pending"  # pending | delivered | failed
    status: int | None = None
    response: str | None = None
    error: str | None = None
    queued_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "topic": self.topic,
            "address": self.address,
            "webhook_id": self.webhook_id,
            "order_id": self.order_id,
            "redelivery_of": self.redelivery_of,
            "state": self.state,
            "status": self.status,
            "response": self.response,
            "error": self.error,
            "headers": dict(self.headers),
            "body": self.body.decode("utf-8", "replace"),
            "queued_at": self.queued_at,
            "finished_at": self.finished_at,
        }


class Outbox:
    """Attempts in order of queueing; sends run concurrently, like a shop's workers."""

    def __init__(self, timeout: httpx.Timeout, success: Callable[[int], bool]) -> None:
        self.timeout = timeout
        self.success = success
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seq = itertools.count(1)

    def new(
        self,
        kind: str,
        topic: str,
        address: str,
        headers: dict[str, str],
        body: bytes,
        webhook_id: str,
        order_id: str | None = None,
        redelivery_of: int | None = None,
    ) -> Delivery:
        delivery = Delivery(
            next(self._seq),
            kind,
            topic,
            address,
            headers,
            body,
            webhook_id,
            order_id,
            redelivery_of,
        )
        self.deliveries.append(delivery)
        return delivery

    def queue(self, delivery: Delivery, done: DeliveryDone | None = None) -> None:
        """Send in the background; must be called on the server's event loop."""
        self.track(asyncio.get_running_loop().create_task(self.send(delivery, done)))

    def track(self, task: asyncio.Task[Any]) -> None:
        """Keep a sending task alive until it ends, and cancellable by `reset`."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, delivery: Delivery, done: DeliveryDone | None = None) -> Delivery:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                answer = await client.post(
                    delivery.address, content=delivery.body, headers=delivery.headers
                )
            delivery.status = answer.status_code
            delivery.response = answer.text[:RESPONSE_KEPT]
            delivery.state = "delivered" if self.success(answer.status_code) else "failed"
        except asyncio.CancelledError:
            delivery.state, delivery.error = "failed", "cancelled by reset"
            raise
        except Exception as exc:  # a bad address is as much a failed delivery as a timeout
            delivery.state, delivery.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            delivery.finished_at = time.time()
        if done is not None:
            done(delivery)
        return delivery

    def last(self, predicate: Callable[[Delivery], bool]) -> Delivery | None:
        return next((d for d in reversed(self.deliveries) if predicate(d)), None)

    def reset(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        self.deliveries = []
        self._seq = itertools.count(1)

    def as_json(self) -> dict[str, Any]:
        return {
            "total": len(self.deliveries),
            "pending": sum(1 for d in self.deliveries if d.state == "pending"),
            "deliveries": [d.as_json() for d in self.deliveries],
        }
