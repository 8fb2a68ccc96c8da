"""The Shopify simulator's admin routes: subscribe, place and change orders, redeliver, inspect.

These stand in for what happens in the merchant's store (a buyer checks out, staff capture a
payment or cancel) and for Shopify's delivery machinery (a retry of the same delivery). Each
change bumps `updated_at` and queues the webhooks Shopify would send for it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from simulators.admin import admin_error, json_object
from simulators.shops.common import (
    TemplatedRoute,
    admin_handler,
    deliver_flag,
    order_change,
    parse_time,
    positive_int,
)
from simulators.shops.delivery import Delivery
from simulators.shops.shopify_refunds import make_refund

if TYPE_CHECKING:
    from simulators.shops.shopify import ShopifySim

MAX_REDELIVERIES = 100
OPEN_PAYMENT = ("pending", "authorized", "partially_paid")


def routes(sim: ShopifySim) -> list[TemplatedRoute]:
    async def subscribe(request: Request, params: dict[str, str]) -> Response:
        body = await json_object(request)
        topic, address = body.get("topic"), body.get("address")
        if not isinstance(topic, str) or "/" not in topic:
            raise ValueError('topic must look like "orders/create"')
        if not isinstance(address, str) or not address.startswith(("http://", "https://")):
            raise ValueError("address must be an http(s) URL")
        now = sim.clock.stamp()
        webhook = {
            "id": sim.next_webhook_id,
            "address": address,
            "topic": topic,
            "created_at": now,
            "updated_at": now,
            "format": "json",
            "fields": [],
            "metafield_namespaces": [],
            "api_version": sim.options.api_version,
        }
        sim.next_webhook_id += 1
        sim.webhooks.append(webhook)
        return JSONResponse({"webhook": webhook}, status_code=201)

    async def place(request: Request, params: dict[str, str]) -> Response:
        body = await json_object(request)
        deliver = deliver_flag(body)
        order = new_order(sim, body)
        topics = ["orders/create"] + (
            ["orders/paid"] if order["financial_status"] == "paid" else []
        )
        return _changed(sim, order, topics, deliver, status=201)

    async def pay(request: Request, params: dict[str, str]) -> Response:
        _, deliver, order = await order_change(request, sim.orders, params["id"], _id)
        if order["financial_status"] not in OPEN_PAYMENT or order.get("cancelled_at"):
            return JSONResponse(
                {"error": {"code": "conflict", "message": f"order is {order['financial_status']}"}},
                status_code=409,
            )
        order.update(financial_status="paid", updated_at=sim.clock.stamp())
        if "total_outstanding" in order:
            order["total_outstanding"] = "0.00"
        return _changed(sim, order, ["orders/paid", "orders/updated"], deliver)

    async def cancel(request: Request, params: dict[str, str]) -> Response:
        body, deliver, order = await order_change(request, sim.orders, params["id"], _id)
        if order.get("cancelled_at"):
            return JSONResponse(
                {"error": {"code": "conflict", "message": "already cancelled"}}, status_code=409
            )
        now = sim.clock.stamp()
        order.update(
            cancelled_at=now,
            closed_at=now,
            updated_at=now,
            cancel_reason=str(body.get("reason", "customer")),
        )
        if order["financial_status"] in OPEN_PAYMENT:
            order["financial_status"] = "voided"
        return _changed(sim, order, ["orders/cancelled", "orders/updated"], deliver)

    async def redeliver(request: Request, params: dict[str, str]) -> Response:
        body = await json_object(request)
        order_id, topic = str(_id(params["id"])), body.get("topic", "orders/create")
        times = positive_int(body.get("times", 1))
        if times is None or times > MAX_REDELIVERIES:
            raise ValueError(f"times must be an integer from 1 to {MAX_REDELIVERIES}")
        originals = _last_per_address(sim, order_id, topic)
        if not originals:
            return admin_error(404, f"no {topic} delivery of order {order_id} to redeliver")
        copies = [
            sim.outbox.new(
                "webhook",
                topic,
                original.address,
                dict(original.headers),
                original.body,
                original.webhook_id,
                order_id,
                original.seq,
            )
            for original in originals
            for _ in range(times)
        ]
        if body.get("concurrent") is True:
            for copy in copies:
                sim.outbox.queue(copy)
        else:
            _in_sequence(sim, copies)
        return JSONResponse({"redelivered": [copy.seq for copy in copies]})

    async def refund(request: Request, params: dict[str, str]) -> Response:
        body, deliver, order = await order_change(request, sim.orders, params["id"], _id)
        made = make_refund(sim, order, body)
        queued = []
        if deliver:
            queued = sim.emit(made, ["refunds/create"], order_id=order["id"]) + sim.emit(
                order, ["orders/updated"]
            )
        return JSONResponse(
            {"refund": made, "order": order, "deliveries": [d.seq for d in queued]}, status_code=201
        )

    async def expire_tokens(request: Request, params: dict[str, str]) -> Response:
        return JSONResponse({"expired": sim.tokens.expire_all()})

    async def deliveries(request: Request, params: dict[str, str]) -> Response:
        return JSONResponse(sim.outbox.as_json())

    return [
        ("POST", "/_sim/subscriptions", admin_handler(subscribe)),
        ("POST", "/_sim/orders", admin_handler(place)),
        ("POST", "/_sim/orders/{id}/pay", admin_handler(pay)),
        ("POST", "/_sim/orders/{id}/cancel", admin_handler(cancel)),
        ("POST", "/_sim/orders/{id}/redeliver", admin_handler(redeliver)),
        ("POST", "/_sim/orders/{id}/refunds", admin_handler(refund)),
        ("POST", "/_sim/tokens/expire", admin_handler(expire_tokens)),
        ("GET", "/_sim/deliveries", admin_handler(deliveries)),
    ]


def new_order(sim: ShopifySim, body: dict[str, Any]) -> dict[str, Any]:
    """Store a (partial) order as Shopify would: ids, numbers and times are the store's."""
    body = {
        k: v
        for k, v in body.items()
        if not (k in ("created_at", "processed_at", "updated_at") and v is None)
    }
    for name in ("created_at", "processed_at", "updated_at"):
        if name in body and (not isinstance(body[name], str) or parse_time(body[name]) is None):
            raise ValueError(f"{name} must be an ISO 8601 time")
    now = sim.clock.stamp()
    order_id, number = sim.next_id, sim.next_number
    sim.next_id += 1
    sim.next_number += 1
    order: dict[str, Any] = {
        "currency": sim.options.currency,
        "financial_status": "pending",
        "fulfillment_status": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "closed_at": None,
        "test": False,
        "taxes_included": True,
        "line_items": [],
        "shipping_lines": [],
        **body,
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "order_number": 1000 + number,
        "number": number,
        "name": f"#{1000 + number}",
    }
    order.setdefault("presentment_currency", order["currency"])
    order.setdefault("created_at", now)
    order.setdefault("processed_at", order["created_at"])
    order.setdefault("updated_at", now)
    for index, line in enumerate(
        order["line_items"] if isinstance(order["line_items"], list) else []
    ):
        if isinstance(line, dict):
            line.setdefault("id", order_id * 10 + index + 1)
    sim.orders[order_id] = order
    return order


def _changed(
    sim: ShopifySim, order: dict[str, Any], topics: list[str], deliver: bool, status: int = 200
) -> Response:
    queued = sim.emit(order, topics) if deliver else []
    return JSONResponse({"order": order, "deliveries": [d.seq for d in queued]}, status_code=status)


def _id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise ValueError("order id must be a number")
    return int(raw)


def _last_per_address(sim: ShopifySim, order_id: str, topic: str) -> list[Delivery]:
    """The latest first-time delivery of the topic for the order, one per address."""
    found: dict[str, Delivery] = {}
    for delivery in sim.outbox.deliveries:
        if (delivery.order_id, delivery.topic, delivery.redelivery_of) == (order_id, topic, None):
            found[delivery.address] = delivery
    return list(found.values())


def _in_sequence(sim: ShopifySim, copies: list[Delivery]) -> None:
    async def one_after_another() -> None:
        for copy in copies:
            await sim.outbox.send(copy)

    task = asyncio.get_running_loop().create_task(one_after_another())
    sim.outbox.track(task)
