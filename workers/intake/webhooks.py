"""Shop webhooks in: signature on the raw body, dedupe of repeated deliveries, then the same
event path as every other producer (`tasks.events.apply_event`). Nothing here talks to an ERP.

Signatures are base64 HMAC-SHA256 of the exact bytes received, compared in constant time, with
the previous secret still accepted during a rotation. A delivery seen before (Shopify: shop
domain + webhook id; WooCommerce, whose delivery id is not an event id: source + order id +
topic + modification time) is answered 200 at once, without work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from core.runtime import Runtime
from core.settings import ConnectionSettings, Settings
from schemas.shops.errors import MappingError
from schemas.shops.shopify_refund import shopify_refund
from schemas.shops.woocommerce_refund import woocommerce_refund_ids
from tasks.events import Decision, OrderEvent, apply_event
from tasks.refunds import missing_credit, original_order
from tasks.sources import event_from_shop
from workers.intake.answers import OrderAnswer
from workers.intake.errors import ApiError
from workers.intake.http import parse_json, read_limited, runtime_of

SHOPIFY_TOPICS = {
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "refunds/create",
}
WOO_TOPICS = {"order.created", "order.updated", "order.restored", "order.deleted"}
SEEN_SECONDS = 7 * 86_400
router = APIRouter()

ANSWERS: dict[int | str, dict[str, Any]] = {
    202: {"model": OrderAnswer, "description": "A new order (or refund): its job, queued."},
    200: {
        "model": OrderAnswer,
        "description": "Taken without a new job: a repeated delivery, a topic not handled, an "
        "order seen before, paid or cancelled.",
    },
}


def delivery(
    body: dict[str, Any], headers: dict[str, tuple[str, bool]], description: str
) -> dict[str, Any]:
    """`openapi_extra` for a webhook route: the shop's payload and its headers (name →
    (description, required)), which the route reads from the raw request itself."""
    return {
        "parameters": [
            {
                "name": name,
                "in": "header",
                "required": required,
                "description": text,
                "schema": {"type": "string"},
            }
            for name, (text, required) in headers.items()
        ],
        "requestBody": {"required": True, "description": description, "content": body},
    }


SHOPIFY_DELIVERY = delivery(
    {"application/json": {"schema": {"type": "object"}}},
    {
        "X-Shopify-Hmac-Sha256": ("base64 HMAC-SHA256 of the body with the app's secret", True),
        "X-Shopify-Topic": (f"handled: {', '.join(sorted(SHOPIFY_TOPICS))}", True),
        "X-Shopify-Shop-Domain": ("the shop, part of the delivery's identity", False),
        "X-Shopify-Webhook-Id": ("repeats on Shopify's retries: answered 200 at once", False),
        "X-Shopify-Event-Id": ("shared by the subscriptions to one event", False),
    },
    "The order or refund exactly as Shopify sends it, signed.",
)
WOO_DELIVERY = delivery(
    {
        "application/json": {"schema": {"type": "object"}},
        "application/x-www-form-urlencoded": {
            "schema": {"type": "object", "properties": {"webhook_id": {"type": "string"}}}
        },
    },
    {
        "X-WC-Webhook-Signature": ("base64 HMAC-SHA256 of the body (not on the ping)", False),
        "X-WC-Webhook-Topic": (f"handled: {', '.join(sorted(WOO_TOPICS))}", False),
        "X-WC-Webhook-Source": ("the shop's URL, part of the delivery's identity", False),
    },
    "The order exactly as WooCommerce sends it, signed; or its unsigned creation ping "
    "(`webhook_id=N`, form-encoded).",
)


@router.post(
    "/webhooks/shopify/{name}",
    response_model=None,
    responses=ANSWERS,
    openapi_extra=SHOPIFY_DELIVERY,
)
async def shopify_webhook(name: str, request: Request) -> JSONResponse:
    raw = await read_limited(request)
    return await run_in_threadpool(shopify, runtime_of(request), name, request, raw)


@router.post(
    "/webhooks/woocommerce/{name}",
    response_model=None,
    responses=ANSWERS,
    openapi_extra=WOO_DELIVERY,
)
async def woocommerce_webhook(name: str, request: Request) -> JSONResponse:
    raw = await read_limited(request)
    return await run_in_threadpool(woocommerce, runtime_of(request), name, request, raw)


def signed(raw: bytes, signature: str | None, secrets: list[bytes]) -> bool:
    if not signature or not secrets:
        return False
    given = signature.strip().encode()
    return any(
        hmac.compare_digest(base64.b64encode(hmac.new(secret, raw, hashlib.sha256).digest()), given)
        for secret in secrets
    )


def shop_connection(settings: Settings, name: str, source: str) -> ConnectionSettings:
    conn = settings.connections.get(name)
    if conn is None or conn.source != source:
        raise ApiError(404, "unknown_connection", f"no {source} connection named {name!r}")
    return conn


def read_event(source: str, payload: Any, conn: ConnectionSettings) -> OrderEvent:
    try:
        return event_from_shop(source, payload, conn.shop.fallback_sku)
    except MappingError as exc:
        raise unusable("unusable_order", exc) from None


def read_refund_ids(payload: Any) -> list[str]:
    """The refund ids a WooCommerce order body lists; 422 naming the field when unreadable."""
    try:
        return woocommerce_refund_ids(payload)
    except MappingError as exc:
        raise unusable("unusable_order", exc) from None


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


def shopify(rt: Runtime, name: str, request: Request, raw: bytes) -> JSONResponse:
    conn = shop_connection(rt.settings, name, "shopify")
    if not signed(raw, request.headers.get("x-shopify-hmac-sha256"), conn.shop.secrets()):
        raise ApiError(401, "bad_signature", "missing or wrong X-Shopify-Hmac-Sha256")
    topic = request.headers.get("x-shopify-topic", "")
    if topic not in SHOPIFY_TOPICS:
        return JSONResponse({"state": "ignored", "detail": f"topic {topic!r} not handled"})
    domain = request.headers.get("x-shopify-shop-domain", "")
    # The delivery id repeats on Shopify's retries; the event id is shared by every
    # subscription to the same event (e.g. two webhooks of one app for one topic).
    keys = [
        f"shopify:{domain}:{kind}:{value}"
        for kind, value in (
            ("webhook", request.headers.get("x-shopify-webhook-id")),
            ("event", request.headers.get("x-shopify-event-id")),
        )
        if value
    ]
    payload = parse_json(raw)
    if topic == "refunds/create":
        return handle(rt, conn, keys, lambda: read_refund(rt, payload, conn))
    return handle(rt, conn, keys, lambda: read_event("shopify", payload, conn))


def read_refund(rt: Runtime, payload: Any, conn: ConnectionSettings) -> OrderEvent:
    """A Shopify refund → a credit job for the refunded order (mapped against that order when
    we have it; the credit job itself waits until the original has reached the ERP)."""
    order_id = str(payload.get("order_id", "")) if isinstance(payload, dict) else ""
    try:
        credit = shopify_refund(
            payload if isinstance(payload, dict) else {},
            original_order(rt, conn, order_id),
            fallback_sku=conn.shop.fallback_sku,
        )
    except MappingError as exc:
        raise unusable("unusable_refund", exc) from None
    return OrderEvent(credit.external_id, credit)


def woocommerce(rt: Runtime, name: str, request: Request, raw: bytes) -> JSONResponse:
    conn = shop_connection(rt.settings, name, "woocommerce")
    signature = request.headers.get("x-wc-webhook-signature")
    if signature is None and raw.startswith(b"webhook_id="):
        return JSONResponse({"state": "ping"})  # WooCommerce's creation ping: unsigned
    if not signed(raw, signature, conn.shop.secrets()):
        raise ApiError(401, "bad_signature", "missing or wrong X-WC-Webhook-Signature")
    topic = request.headers.get("x-wc-webhook-topic", "")
    if topic not in WOO_TOPICS:
        return JSONResponse({"state": "ignored", "detail": f"topic {topic!r} not handled"})
    payload = parse_json(raw)
    if topic == "order.deleted":  # the body is only {"id": N}
        order_id = str(payload.get("id", "")) if isinstance(payload, dict) else ""
        if not order_id:
            raise ApiError(
                422,
                "unusable_order",
                "order.deleted without an id",
                [{"field": "id", "message": "required"}],
            )
        return handle(rt, conn, [], lambda: OrderEvent(order_id, None, cancelled=True))
    event = read_event("woocommerce", payload, conn)
    refund_ids = read_refund_ids(payload)

    def with_refunds_noticed() -> OrderEvent:
        # After the duplicate check: a repeated delivery costs no lookups. The body lists only
        # refund totals; the worker's reconciliation reads each new refund's lines from the
        # shop's API and makes its credit job.
        if any(missing_credit(rt, conn, i) for i in refund_ids):
            rt.store.reconcile_soon(conn.name)
        return event

    source = request.headers.get("x-wc-webhook-source", "")
    stamp = event.updated_at.isoformat() if event.updated_at else ""
    return handle(
        rt, conn, [f"woo:{source}:{event.order_id}:{topic}:{stamp}"], with_refunds_noticed
    )
