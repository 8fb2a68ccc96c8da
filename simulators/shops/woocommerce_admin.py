"""The WooCommerce simulator's admin routes: webhooks, orders and their status, deliveries.

`POST /_sim/webhooks` `{"topic", "delivery_url", "secret"?, "name"?, "status"?}` creates a
webhook and, like WooCommerce, first pings the URL (form body `webhook_id=<id>`, no signature
headers), answering with the webhook and the ping's outcome. `POST /_sim/webhooks/{id}`
`{"status"}` pauses or re-enables one (the failure count stays: only a success resets it).
`POST /_sim/orders` stores a (partial) order (id, number, order key and dates assigned; the
`date_*_gmt` fields may be given to backdate) and sends `order.created` unless it is a draft;
`POST /_sim/orders/{id}/status` `{"status"}` sends `order.updated`.
`POST /_sim/orders/{id}/refunds` `{"line_items": [{"id": <order line item id>, "quantity": n}],
"reason"?, "refund_shipping"?: bool, "refund_fees"?: bool}` refunds as the order screen does
(`woocommerce_refunds`), moves the order's date_modified (so polling by `modified_after` sees
the refund [I: WooCommerce saving the order on a refund is assumed, not confirmed]), answers 201
`{"refund", "order", "deliveries"}` and sends `order.updated` (its hooks include
`woocommerce_order_refunded`). All three take `"deliver": false`.
`GET /_sim/deliveries` lists every attempt, pings included.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from simulators.admin import admin_error, json_object
from simulators.shops import woocommerce_refunds
from simulators.shops.common import (
    TemplatedRoute,
    admin_handler,
    deliver_flag,
    gmt,
    order_change,
    parse_time,
)

if TYPE_CHECKING:
    from simulators.shops.woocommerce import WooCommerceSim

HOOKS = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post"],
    "order.restored": ["untrashed_post"],
}
WEBHOOK_STATUSES = ("active", "paused", "disabled")
ORDER_STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
    "checkout-draft",
    "draft",
    "auto-draft",
)
SILENT_ON_CREATE = ("draft", "auto-draft")  # WC_Webhook skips these; checkout-draft is sent
PAID = ("processing", "completed")


def routes(sim: WooCommerceSim) -> list[TemplatedRoute]:
    async def create_webhook(request: Request, params: dict[str, str]) -> Response:
        body = await json_object(request)
        topic, url = body.get("topic"), body.get("delivery_url")
        if not isinstance(topic, str) or topic.count(".") != 1:
            raise ValueError('topic must look like "order.created"')
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError("delivery_url must be an http(s) URL")
        status = body.get("status", "active")
        if status not in WEBHOOK_STATUSES:
            raise ValueError(f"status must be one of {', '.join(WEBHOOK_STATUSES)}")
        secret = body.get("secret", sim.options.webhook_secret)
        if not isinstance(secret, str) or not secret:
            raise ValueError("secret must be a non-empty string")
        webhook_id = sim.next_webhook_id
        sim.next_webhook_id += 1
        stamps = _dates(sim, "date_created", sim.clock.now())
        resource, _, event = topic.partition(".")
        webhook = {
            "id": webhook_id,
            "name": body.get("name", f"Webhook {webhook_id}"),
            "status": status,
            "topic": topic,
            "resource": resource,
            "event": event,
            "hooks": HOOKS.get(topic, []),
            "delivery_url": url,
            "failure_count": 0,
            **stamps,
            **_dates(sim, "date_modified", sim.clock.now()),
        }
        sim.webhooks[webhook_id] = webhook
        sim.secrets[webhook_id] = secret
        ping = None
        if status == "active":
            delivery = sim.outbox.new(
                "ping",
                "ping",
                url,
                {"User-Agent": sim.user_agent, "Content-Type": "application/x-www-form-urlencoded"},
                f"webhook_id={webhook_id}".encode(),
                str(webhook_id),
            )
            ping = (await sim.outbox.send(delivery)).as_json()
        return JSONResponse({"webhook": webhook, "ping": ping}, status_code=201)

    async def update_webhook(request: Request, params: dict[str, str]) -> Response:
        body = await json_object(request)
        webhook = sim.webhooks.get(int(params["id"])) if params["id"].isdigit() else None
        if webhook is None:
            return admin_error(404, "unknown webhook")
        if body.get("status") not in WEBHOOK_STATUSES:
            raise ValueError(f"status must be one of {', '.join(WEBHOOK_STATUSES)}")
        webhook.update(status=body["status"], **_dates(sim, "date_modified", sim.clock.now()))
        return JSONResponse({"webhook": webhook})

    async def place(request: Request, params: dict[str, str]) -> Response:
        body = await json_object(request)
        deliver = deliver_flag(body)
        order = new_order(sim, body)
        silent = not deliver or order["status"] in SILENT_ON_CREATE
        queued = [] if silent else sim.emit(order, "order.created")
        return JSONResponse(
            {"order": order, "deliveries": [d.seq for d in queued]}, status_code=201
        )

    async def set_status(request: Request, params: dict[str, str]) -> Response:
        body, deliver, order = await order_change(request, sim.orders, params["id"], _number)
        status = _status(body.get("status"))
        now = sim.clock.now()
        order.update(status=status, **_dates(sim, "date_modified", now))
        if status in PAID and not order.get("date_paid_gmt"):
            order.update(_dates(sim, "date_paid", now))
        if status == "completed" and not order.get("date_completed_gmt"):
            order.update(_dates(sim, "date_completed", now))
        queued = sim.emit(order, "order.updated") if deliver else []
        return JSONResponse({"order": order, "deliveries": [d.seq for d in queued]})

    async def refund(request: Request, params: dict[str, str]) -> Response:
        body, deliver, order = await order_change(request, sim.orders, params["id"], _number)
        now = sim.clock.now()
        made, fully = woocommerce_refunds.make_refund(
            sim, order, body, _dates(sim, "date_created", now)
        )
        order.update(_dates(sim, "date_modified", now))
        if fully:
            order["status"] = "refunded"
        queued = sim.emit(order, "order.updated") if deliver else []
        return JSONResponse(
            {
                "refund": woocommerce_refunds.resource(sim, made),
                "order": order,
                "deliveries": [d.seq for d in queued],
            },
            status_code=201,
        )

    async def deliveries(request: Request, params: dict[str, str]) -> Response:
        return JSONResponse(sim.outbox.as_json())

    return [
        ("POST", "/_sim/webhooks", admin_handler(create_webhook)),
        ("POST", "/_sim/webhooks/{id}", admin_handler(update_webhook)),
        ("POST", "/_sim/orders", admin_handler(place)),
        ("POST", "/_sim/orders/{id}/status", admin_handler(set_status)),
        ("POST", "/_sim/orders/{id}/refunds", admin_handler(refund)),
        ("GET", "/_sim/deliveries", admin_handler(deliveries)),
    ]


def new_order(sim: WooCommerceSim, body: dict[str, Any]) -> dict[str, Any]:
    """Store a (partial) order as WooCommerce would: id, number, key and dates are the site's."""
    given = {}
    for name in ("date_created_gmt", "date_modified_gmt", "date_paid_gmt"):
        if body.get(name) is not None:
            moment = parse_time(body[name]) if isinstance(body[name], str) else None
            if moment is None:
                raise ValueError(f"{name} must be an ISO 8601 time")
            given[name[:-4]] = moment
    now = sim.clock.now()
    order_id = sim.next_id
    sim.next_id += 1
    order: dict[str, Any] = {
        "parent_id": 0,
        "status": "pending",
        "currency": sim.options.currency,
        "version": sim.options.wc_version,
        "prices_include_tax": True,
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": "0.00",
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": "0.00",
        "total_tax": "0.00",
        "customer_id": 0,
        "customer_note": "",
        "billing": {},
        "shipping": {},
        "payment_method": "",
        "payment_method_title": "",
        "transaction_id": "",
        "created_via": "checkout",
        "date_paid": None,
        "date_paid_gmt": None,
        "date_completed": None,
        "date_completed_gmt": None,
        "line_items": [],
        "tax_lines": [],
        "shipping_lines": [],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [],
        "meta_data": [],
        **body,
        "id": order_id,
        "number": str(order_id),
        "order_key": f"wc_order_{secrets.token_hex(7)}",
    }
    order["status"] = _status(order["status"])
    created = given.get("date_created", now)
    order.update(_dates(sim, "date_created", created))
    order.update(_dates(sim, "date_modified", given.get("date_modified", max(created, now))))
    if "date_paid" in given:
        order.update(_dates(sim, "date_paid", given["date_paid"]))
    elif order["status"] in PAID:
        order.update(_dates(sim, "date_paid", now))
    sim.orders[order_id] = order
    return order


def _number(raw: str) -> int | None:
    """A path id: digits, else None (WooCommerce answers 404 for any id it has not)."""
    return int(raw) if raw.isdigit() else None


def _status(value: Any) -> str:
    status = value[3:] if isinstance(value, str) and value.startswith("wc-") else value
    if status not in ORDER_STATUSES:
        raise ValueError(f"status must be one of {', '.join(ORDER_STATUSES)}")
    return str(status)


def _dates(sim: WooCommerceSim, name: str, moment: datetime) -> dict[str, str]:
    """The site-local and the GMT spelling of one moment, as WooCommerce stores both."""
    local = moment + timedelta(minutes=sim.options.utc_offset_minutes)
    return {name: gmt(local), f"{name}_gmt": gmt(moment)}
