"""A small faithful WooCommerce store: the REST v3 Orders API and the webhooks it pushes, as
`class-wc-webhook.php` delivers them (sources/webshops.md).

API (OAuth 1.0a signatures as WooCommerce checks them over http, see `woocommerce_oauth`; or
HTTP Basic with consumer key and secret, or `consumer_key`/`consumer_secret` in the query, as
over https):
`GET /wp-json/wc/v3/orders` with `modified_after`/`modified_before`, `after`/`before` (created),
`dates_are_gmt`, `status` (any by default, or a comma-separated list), `orderby` (date, id,
modified), `order` (desc by default), `per_page` (default 10, 1 to 100) and `page`, answered with
`X-WP-Total`, `X-WP-TotalPages` and a `Link` header; `GET /wp-json/wc/v3/orders/{id}`;
`GET /wp-json/wc/v3/orders/{order_id}/refunds` (newest first, paged alike; an unknown order has
none, as WooCommerce queries refunds by parent) and `.../refunds/{id}` (see `woocommerce_refunds`).
An unknown refund id is 404 `woocommerce_rest_shop_order_refund_invalid_id`. A known id that is
not a refund of that order gets `woocommerce_rest_invalid_order_refund_id` (or
`woocommerce_rest_invalid_order_id` for an unknown order) with `"data": 404`: WooCommerce passes
the status where WordPress wants `{"status": 404}`, so as the code reads WordPress answers 500
[I: read from the code, not seen on a live site]; option `foreign_refund_status`.
The site's clock is `utc_offset_minutes` ahead of UTC: `date_*` fields are site-local,
`date_*_gmt` UTC, and times without offset in filters are site-local unless `dates_are_gmt`.

Webhooks: body `wp_json_encode`d (compact, `\\/` and `\\uXXXX` escapes) and signed over the exact
bytes; success is a status from 200 to 302 and resets the failure count; there are no retries;
a failure when the count already exceeds `max_delivery_failures` (5) disables the webhook (so the
seventh consecutive failure does, as the code reads; the docs say "after 5").
Admin routes are in `woocommerce_admin`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from simulators.admin import AdminHandler, merged_options
from simulators.shops import woocommerce_admin, woocommerce_refunds
from simulators.shops.common import (
    Clock,
    ShopSimApp,
    parse_time,
    positive_int,
    template_match,
)
from simulators.shops.delivery import Delivery, Outbox, signature
from simulators.shops.woocommerce_oauth import OAuthChecker, is_oauth

LIST, ONE = "/wp-json/wc/v3/orders", "/wp-json/wc/v3/orders/{id}"
REFUNDS, REFUND = f"{LIST}/{{order_id}}/refunds", f"{LIST}/{{order_id}}/refunds/{{id}}"
STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
    "checkout-draft",
)
TIME_FILTERS = {
    "modified_after": ("date_modified_gmt", 1),
    "modified_before": ("date_modified_gmt", -1),
    "after": ("date_created_gmt", 1),
    "before": ("date_created_gmt", -1),
}
ORDERBY = {"date": "date_created_gmt", "id": "id", "modified": "date_modified_gmt"}
REFUND_ORDERBY = {"date": "date_created_gmt", "id": "id"}
NO_ROUTE = "No route was found matching the URL and request method."


@dataclass(frozen=True)
class WooCommerceSimOptions:
    consumer_key: str = "ck_demo"
    consumer_secret: str = "cs_demo"
    webhook_secret: str = "demo-webhook-secret"  # for webhooks created without a secret
    site_url: str = "http://127.0.0.1:18092/"
    currency: str = "NOK"
    utc_offset_minutes: int = 60
    max_delivery_failures: int = 5
    delivery_timeout_ms: int = 60_000  # WooCommerce waits a minute
    wc_version: str = "9.4.0"
    wp_version: str = "6.7.1"
    foreign_refund_status: int = 500  # see the module docstring; 404 models a fixed WooCommerce

    def merged(self, changes: Mapping[str, Any]) -> WooCommerceSimOptions:
        return merged_options(self, changes)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class WooCommerceSim:
    """One simulated WooCommerce site (implements admin.SimulatedErp)."""

    def __init__(self, options: WooCommerceSimOptions) -> None:
        self.initial_options = self.options = options
        self.outbox = Outbox(self._timeout(), lambda status: 200 <= status <= 302)
        self._fresh()

    def _fresh(self) -> None:
        self.orders: dict[int, dict[str, Any]] = {}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.secrets: dict[int, str] = {}
        self.refunds: dict[int, dict[str, Any]] = {}  # stored with their order's id, parent_id
        self.nonces: set[tuple[str, str, str]] = set()  # OAuth nonces taken (key, time, nonce)
        self.outbox.reset()
        self.outbox.timeout = self._timeout()
        self.next_id, self.next_webhook_id, self.next_meta_id = 5001, 1, 1001

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.options.delivery_timeout_ms / 1000)

    @property
    def clock(self) -> Clock:
        return Clock(self.options.utc_offset_minutes)

    @property
    def user_agent(self) -> str:
        return (
            f"WooCommerce/{self.options.wc_version} Hookshot (WordPress/{self.options.wp_version})"
        )

    # --- the site's own API -------------------------------------------------------------------

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        await self._respond(request)(scope, receive, send)

    def _respond(self, request: Request) -> Response:
        path = request.url.path
        params = template_match(ONE, path)
        refund_route = next(
            (
                (template, found)
                for template in (REFUNDS, REFUND)
                if (found := template_match(template, path)) is not None
            ),
            None,
        )
        if refund_route is not None and not all(v.isdigit() for v in refund_route[1].values()):
            refund_route = None  # WooCommerce's refund routes take digits only
        if template_match(LIST, path) is None and params is None and refund_route is None:
            return wp_error(404, "rest_no_route", NO_ROUTE)
        if request.method != "GET":
            return wp_error(404, "rest_no_route", NO_ROUTE)
        refusal = self._authenticate(request)
        if refusal is not None:
            return refusal
        if refund_route is not None:
            template, found = refund_route
            if template == REFUND:
                return self._refund(int(found["order_id"]), int(found["id"]))
            return self._refund_list(request, int(found["order_id"]))
        if params is not None:
            order = self.orders.get(int(params["id"])) if params["id"].isdigit() else None
            if order is None:
                return wp_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            return JSONResponse(order)
        return self._list(request)

    def _authenticate(self, request: Request) -> Response | None:
        query = request.url.query
        if is_oauth(query):  # a client signing as WooCommerce wants over plain http
            base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
            checker = OAuthChecker(
                self.options.consumer_key, self.options.consumer_secret, self.nonces
            )
            refused = checker.refusal(request.method, base, query)
            return None if refused is None else wp_error(401, *refused)
        key, secret = (
            request.query_params.get("consumer_key"),
            request.query_params.get("consumer_secret"),
        )
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                key, _, secret = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                key = secret = None
        if not key:
            return wp_error(
                401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources."
            )
        if key != self.options.consumer_key:
            return wp_error(
                401, "woocommerce_rest_authentication_error", "Consumer key is invalid."
            )
        if secret != self.options.consumer_secret:
            return wp_error(
                401, "woocommerce_rest_authentication_error", "Consumer secret is invalid."
            )
        return None

    def _list(self, request: Request) -> Response:
        query = request.query_params
        paging = paging_params(request)
        if isinstance(paging, Response):
            return paging
        wanted = [part.strip() for part in query.get("status", "any").split(",") if part.strip()]
        if any(status != "any" and status not in STATUSES for status in wanted):
            return invalid_param("status", f"status[0] is not one of any, {', '.join(STATUSES)}.")
        if query.get("order", "desc") not in ("asc", "desc"):
            return invalid_param("order", "order is not one of asc and desc.")
        if query.get("orderby", "date") not in ORDERBY:
            return invalid_param("orderby", f"orderby is not one of {', '.join(ORDERBY)}.")
        limits: dict[str, datetime] = {}
        gmt = query.get("dates_are_gmt") in ("1", "true")
        for name in TIME_FILTERS:
            if name in query:
                moment = self._filter_time(query[name], gmt)
                if moment is None:
                    return invalid_param(name, "Invalid date.")
                limits[name] = moment
        selected = [
            order
            for order in self.orders.values()
            if ("any" in wanted or order["status"] in wanted) and within(order, limits)
        ]
        key = ORDERBY[query.get("orderby", "date")]
        selected.sort(
            key=lambda order: (order[key], order["id"]),
            reverse=query.get("order", "desc") == "desc",
        )
        return paged(request, selected, *paging)

    def _refund(self, order_id: int, refund_id: int) -> Response:
        """WC_REST_CRUD_Controller::get_item, then the refund controller's parent checks."""
        refund = self.refunds.get(refund_id)
        if refund is None and refund_id not in self.orders:
            return wp_error(404, "woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID.")
        status = self.options.foreign_refund_status
        if order_id not in self.orders and order_id not in self.refunds:
            return JSONResponse(
                {
                    "code": "woocommerce_rest_invalid_order_id",
                    "message": "Invalid order ID.",
                    "data": 404,
                },
                status,
            )
        if refund is None or refund["parent_id"] != order_id:
            return JSONResponse(
                {
                    "code": "woocommerce_rest_invalid_order_refund_id",
                    "message": "Invalid order refund ID.",
                    "data": 404,
                },
                status,
            )
        return JSONResponse(woocommerce_refunds.resource(self, refund))

    def _refund_list(self, request: Request, order_id: int) -> Response:
        query = request.query_params
        paging = paging_params(request)
        if isinstance(paging, Response):
            return paging
        if query.get("order", "desc") not in ("asc", "desc"):
            return invalid_param("order", "order is not one of asc and desc.")
        if query.get("orderby", "date") not in REFUND_ORDERBY:
            return invalid_param("orderby", f"orderby is not one of {', '.join(REFUND_ORDERBY)}.")
        key = REFUND_ORDERBY[query.get("orderby", "date")]
        selected = sorted(
            woocommerce_refunds.refunds_of(self, order_id),
            key=lambda refund: (refund[key], refund["id"]),
            reverse=query.get("order", "desc") == "desc",
        )
        return paged(request, [woocommerce_refunds.resource(self, r) for r in selected], *paging)

    def _filter_time(self, value: str, gmt: bool) -> datetime | None:
        """A filter time; without an offset it is site-local unless `dates_are_gmt`."""
        return parse_time(value, 0 if gmt else self.options.utc_offset_minutes)

    # --- webhooks -----------------------------------------------------------------------------

    def emit(self, order: dict[str, Any], topic: str) -> list[Delivery]:
        """Queue a delivery to every active webhook on the topic."""
        resource, _, event = topic.partition(".")
        body = wp_json_encode(order)
        queued = []
        for webhook in self.webhooks.values():
            if webhook["status"] != "active" or webhook["topic"] != topic:
                continue
            headers = {
                "Content-Type": "application/json",
                "User-Agent": self.user_agent,
                "X-WC-Webhook-Source": self.options.site_url,
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": signature(self.secrets[webhook["id"]], body),
                "X-WC-Webhook-ID": str(webhook["id"]),
                "X-WC-Webhook-Delivery-ID": delivery_id(webhook["id"]),
            }
            delivery = self.outbox.new(
                "webhook",
                topic,
                webhook["delivery_url"],
                headers,
                body,
                str(webhook["id"]),
                str(order["id"]),
            )
            self.outbox.queue(delivery, self._settle)
            queued.append(delivery)
        return queued

    def _settle(self, delivery: Delivery) -> None:
        """WC_Webhook::deliver's bookkeeping after each delivery."""
        webhook = self.webhooks.get(int(delivery.webhook_id))
        if webhook is None:
            return
        if delivery.state == "delivered":
            webhook["failure_count"] = 0
        elif webhook["failure_count"] > self.options.max_delivery_failures:
            webhook["status"] = "disabled"
        else:
            webhook["failure_count"] += 1

    # --- what the admin layer needs -----------------------------------------------------------

    def endpoint(self, method: str, path: str) -> str:
        for template in (LIST, ONE, REFUNDS, REFUND):
            if template_match(template, path) is not None:
                return f"{method} {template}"
        return f"{method} {path}"

    def state(self) -> dict[str, list[Any]]:
        return {
            "orders": [self.orders[key] for key in sorted(self.orders)],
            "refunds": [self.refunds[key] for key in sorted(self.refunds)],
            "webhooks": [self.webhooks[key] for key in sorted(self.webhooks)],
        }

    def reset(self) -> None:
        self.options = self.initial_options
        self._fresh()

    def error_response(self, status: int) -> Response:
        if status >= 500:
            return wp_error(
                status, "internal_server_error", "There has been a critical error on this website."
            )
        return wp_error(status, "rest_error", "The request could not be completed.")

    def rate_limit_response(self) -> Response:
        # WordPress has no rate limit of its own; hosts and firewalls answer like this
        return wp_error(
            429, "rest_too_many_requests", "Too many requests.", headers={"Retry-After": "10"}
        )

    def get_config(self) -> dict[str, Any]:
        return self.options.as_json()

    def set_config(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        self.options = self.options.merged(changes)
        self.outbox.timeout = self._timeout()
        return self.options.as_json()

    def admin_routes(self) -> dict[str, AdminHandler]:
        return {}


def paging_params(request: Request) -> tuple[int, int] | Response:
    """`per_page` (1 to 100, default 10) and `page` (default 1), or WordPress's refusal."""
    query = request.query_params
    per_page, page = positive_int(query.get("per_page", "10")), positive_int(query.get("page", "1"))
    if per_page is None or per_page > 100:
        return invalid_param(
            "per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)"
        )
    if page is None:
        return invalid_param("page", "page must be greater than or equal to 1")
    return per_page, page


def paged(request: Request, selected: list[dict[str, Any]], per_page: int, page: int) -> Response:
    """One page of a collection with WordPress's `X-WP-Total(Pages)` and `Link` headers."""
    total, pages = len(selected), math.ceil(len(selected) / per_page)
    response = JSONResponse(selected[(page - 1) * per_page : page * per_page])
    response.headers["X-WP-Total"], response.headers["X-WP-TotalPages"] = str(total), str(pages)
    links = [
        f'<{request.url.include_query_params(page=number)}>; rel="{rel}"'
        for rel, number in (("prev", page - 1), ("next", page + 1))
        if 1 <= number <= pages
    ]
    if links:
        response.headers["Link"] = ", ".join(links)
    return response


def within(order: dict[str, Any], limits: dict[str, datetime]) -> bool:
    for name, limit in limits.items():
        field, sign = TIME_FILTERS[name]
        value = parse_time(str(order.get(field) or ""))
        if value is None or (value - limit).total_seconds() * sign <= 0:
            return False  # after / before are exclusive
    return True


def wp_json_encode(value: Any) -> bytes:
    """PHP's json_encode with default flags: compact, `/` and non-ASCII escaped."""
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/").encode()


def delivery_id(webhook_id: int) -> str:
    """wp_hash(webhook id . current second): two deliveries in one second share it."""
    return hashlib.md5(f"orderbridge-sim{webhook_id}{int(time.time())}".encode()).hexdigest()


def wp_error(status: int, code: str, message: str, **kwargs: Any) -> Response:
    return JSONResponse(
        {"code": code, "message": message, "data": {"status": status}}, status_code=status, **kwargs
    )


def invalid_param(name: str, detail: str) -> Response:
    return JSONResponse(
        {
            "code": "rest_invalid_param",
            "message": f"Invalid parameter(s): {name}",
            "data": {"status": 400, "params": {name: detail}},
        },
        status_code=400,
    )


def create_app(options: WooCommerceSimOptions | Mapping[str, Any] | None = None) -> ShopSimApp:
    """The simulator's ASGI app; `app.erp` gives in-process access for tests."""
    if isinstance(options, WooCommerceSimOptions):
        options = options.as_json()
    sim = WooCommerceSim(WooCommerceSimOptions().merged(options or {}))
    return ShopSimApp(sim, woocommerce_admin.routes(sim))


__all__ = ["WooCommerceSim", "WooCommerceSimOptions", "create_app"]
