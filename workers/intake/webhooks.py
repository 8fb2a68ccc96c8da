"""Shop webhooks in: `POST /webhooks/{source}/{name}` (`name`: the connection, as in every other
route) for every shop of the registry (`connectors.shops.registry`). Signature on the raw body,
dedupe of repeated deliveries, then the same event path as every other producer
(`tasks.events.apply_event`). Nothing here talks to an ERP, and nothing here names a shop: each
shop says how its deliveries are signed, which topics it sends and what identifies a delivery
(`connectors.shops.source.ShopSource`).

The route is published once per shop (`/webhooks/shopify/{name}`, ...), so /openapi.json
documents each shop's headers and body. A delivery seen before is answered 200 at once, without
work; a delivery's identity is written only after its event was applied, so one that failed
half-way is retried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from connectors.shops.registry import SHOPS
from connectors.shops.source import ShopSource, Webhook
from core.runtime import Runtime
from core.settings import ConnectionSettings, Settings
from schemas.shops.errors import MappingError
from tasks.events import Decision, OrderEvent, apply_event
from tasks.refunds import missing_credit, original_order
from tasks.sources import event_from_shop
from workers.intake.answers import OrderAnswer
from workers.intake.errors import ApiError
from workers.intake.http import parse_json, read_limited, runtime_of

SEEN_SECONDS = 7 * 86_400
PATH = "/webhooks/{source}/{{name}}"

ANSWERS: dict[int | str, dict[str, Any]] = {
    202: {"model": OrderAnswer, "description": "A new order (or refund): its job, queued."},
    200: {
        "model": OrderAnswer,
        "description": "Taken without a new job: a repeated delivery, a topic not handled, an "
        "order seen before, paid or cancelled.",
    },
}


def delivery(webhook: Webhook) -> dict[str, Any]:
    """`openapi_extra` for a shop's webhook route: its payload and its headers, which the route
    reads from the raw request itself."""
    return {
        "parameters": [
            {
                "name": name,
                "in": "header",
                "required": required,
                "description": text,
                "schema": {"type": "string"},
            }
            for name, (text, required) in webhook.headers.items()
        ],
        "requestBody": {
            "required": True,
            "description": webhook.description,
            "content": dict(webhook.content),
        },
    }


def webhook_router(shops: Mapping[str, ShopSource]) -> APIRouter:
    """One route per shop, all answered by `receive`."""
    router = APIRouter()
    for source, shop in shops.items():
        router.add_api_route(
            PATH.format(source=source),
            _endpoint(source),
            methods=["POST"],
            name=f"{source}_webhook",
            response_model=None,
            responses=ANSWERS,
            openapi_extra=delivery(shop.webhook),
        )
    return router


def _endpoint(source: str) -> Callable[[str, Request], Awaitable[JSONResponse]]:
    async def webhook(name: str, request: Request) -> JSONResponse:
        raw = await read_limited(request)
        return await run_in_threadpool(
            receive, runtime_of(request), source, name, request.headers, raw
        )

    return webhook


router = webhook_router(SHOPS)


def receive(
    rt: Runtime, source: str, name: str, headers: Mapping[str, str], raw: bytes
) -> JSONResponse:
    """Answer one delivery to connection `name` from shop `source`."""
    shop = SHOPS[source]
    conn = shop_connection(rt.settings, name, source)
    if shop.ping(headers, raw):
        return JSONResponse({"state": "ping"})
    if not shop.verified(headers, raw, conn.shop.secrets()):
        header = shop.webhook.signature_header
        raise ApiError(401, "bad_signature", f"missing or wrong {header}")
    topic = shop.topic(headers)
    kind = shop.webhook.topics.get(topic)
    if kind is None:
        return JSONResponse({"state": "ignored", "detail": f"topic {topic!r} not handled"})
    payload = parse_json(raw)
    if kind == "refund":
        keys = shop.delivery_keys(headers, topic, payload)
        return handle(rt, conn, keys, lambda: read_refund(rt, shop, payload, conn))
    if kind == "deleted":
        order_id = shop.deleted_order_id(payload)
        if not order_id:
            details = [{"field": "id", "message": "required"}]
            raise ApiError(422, "unusable_order", f"{topic} without an id", details)
        keys = shop.delivery_keys(headers, topic, payload)
        return handle(rt, conn, keys, lambda: OrderEvent(order_id, None, cancelled=True))
    if shop.webhook.identity_in_body:
        read = read_order(shop, source, payload, conn)
        keys = order_keys(shop, headers, topic, payload)
        return handle(rt, conn, keys, lambda: noticed(rt, conn, *read))
    keys = order_keys(shop, headers, topic, payload)
    return handle(
        rt, conn, keys, lambda: noticed(rt, conn, *read_order(shop, source, payload, conn))
    )


def shop_connection(settings: Settings, name: str, source: str) -> ConnectionSettings:
    conn = settings.connections.get(name)
    if conn is None or conn.source != source:
        raise ApiError(404, "unknown_connection", f"no {source} connection named {name!r}")
    return conn


def order_keys(shop: ShopSource, headers: Mapping[str, str], topic: str, payload: Any) -> list[str]:
    try:
        return shop.delivery_keys(headers, topic, payload)
    except MappingError as exc:
        raise unusable("unusable_order", exc) from None


def read_order(
    shop: ShopSource, source: str, payload: Any, conn: ConnectionSettings
) -> tuple[OrderEvent, list[str]]:
    """The order's event, and the refund ids its body lists; 422 naming the field when
    either cannot be read."""
    try:
        return (
            event_from_shop(source, payload, conn.shop.fallback_sku),
            shop.listed_refunds(payload),
        )
    except MappingError as exc:
        raise unusable("unusable_order", exc) from None


def noticed(
    rt: Runtime, conn: ConnectionSettings, event: OrderEvent, refund_ids: list[str]
) -> OrderEvent:
    """`event`, once listed refunds without a credit job have asked for a poll (the worker's
    reconciliation reads their lines and makes their credit jobs). After the duplicate check,
    so a repeated delivery costs no lookups."""
    if any(missing_credit(rt, conn, i) for i in refund_ids):
        rt.store.reconcile_soon(conn.name)
    return event


def read_refund(
    rt: Runtime, shop: ShopSource, payload: Any, conn: ConnectionSettings
) -> OrderEvent:
    """A refund → a credit job for the refunded order (mapped against that order when we have
    it; the credit job itself waits until the original has reached the ERP)."""
    body = payload if isinstance(payload, dict) else {}
    try:
        credit = shop.refund(
            body,
            original_order(rt, conn, shop.refunded_order_id(body)),
            None,
            fallback_sku=conn.shop.fallback_sku,
        )
    except MappingError as exc:
        raise unusable("unusable_refund", exc) from None
    return OrderEvent(credit.external_id, credit)


def unusable(code: str, exc: MappingError) -> ApiError:
    return ApiError(
        422, code, exc.message, [{"field": exc.field or "body", "message": exc.message}]
    )


def handle(
    rt: Runtime,
    conn: ConnectionSettings,
    delivery_keys: list[str],
    make_event: Callable[[], OrderEvent],
) -> JSONResponse:
    """Answer a verified delivery: repeats at once, new ones through the event path. A key is
    written only after the event was applied, so a delivery that failed half-way is retried."""
    if rt.store.seen_before(conn.name, delivery_keys):
        return JSONResponse({"state": "duplicate", "detail": "delivery seen before"})
    decision: Decision = apply_event(rt, conn.name, make_event())
    rt.store.mark_seen(conn.name, delivery_keys, SEEN_SECONDS)
    return JSONResponse(decision.body(), status_code=decision.status)
