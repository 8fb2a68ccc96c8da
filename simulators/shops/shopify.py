"""A small faithful Shopify store: the Admin API a connector polls (GraphQL, and the legacy REST
Orders API), the token endpoint new apps authenticate at, and the signed webhooks it pushes
(sources/webshops.md).

GraphQL: `POST /admin/api/{version}/graphql.json` (see `shopify_graphql`: orders with search,
cursor paging and the calculated-cost throttle). Tokens: `POST /admin/oauth/access_token`
with the client-credentials grant (see `shopify_tokens`); issued tokens and the static
`access_token` of older apps are both accepted.

REST API (header `X-Shopify-Access-Token`, 401 otherwise):
`GET /admin/api/{version}/orders.json` with `status` (open by default, closed, cancelled, any),
`updated_at_min/max`, `created_at_min/max`, `ids`, `fields`, `limit` (default 50, at most 250)
and cursor paging: newest first, a `Link` header with `rel="previous"`/`rel="next"` URLs whose
opaque `page_info` may be combined only with `limit` and `fields`;
`GET /admin/api/{version}/orders/{id}.json`; `GET /admin/api/{version}/orders/{id}/refunds.json`.

Admin routes: `POST /_sim/subscriptions` `{"topic", "address"}`; `POST /_sim/orders` (a partial
order; id, name, numbers, timestamps assigned; `updated_at` and `created_at` may be given to
backdate) sends `orders/create` (and `orders/paid` when created paid); `POST /_sim/orders/{id}/pay`
and `/cancel` send `orders/paid` or `orders/cancelled` plus `orders/updated`; every one takes
`"deliver": false` to stay silent. `POST /_sim/orders/{id}/refunds` `{"refund_line_items":
[{"line_item_id", "quantity", "restock_type"?}], "note"?}` records a refund (see
`shopify_refunds`) and sends `refunds/create` (body: the refund) and `orders/updated`.
`POST /_sim/tokens/expire` ends every issued token.
`POST /_sim/orders/{id}/redeliver` `{"topic", "times", "concurrent"}` sends the last delivery
of that topic again, byte for byte and with the same webhook id, as Shopify's retries do.
`GET /_sim/deliveries` lists every attempt.
Deliveries are not retried on failure (Shopify retries 8 times over 4 hours; use redeliver).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from simulators.admin import AdminHandler, merged_options, read_json
from simulators.shops import shopify_admin
from simulators.shops.common import (
    Clock,
    ShopSimApp,
    parse_time,
    positive_int,
    template_match,
)
from simulators.shops.delivery import Delivery, Outbox, signature
from simulators.shops.shopify_graphql import Bucket, execute
from simulators.shops.shopify_tokens import TokenIssuer, grant

LIST, ONE = "/admin/api/{version}/orders.json", "/admin/api/{version}/orders/{id}.json"
REFUNDS = "/admin/api/{version}/orders/{id}/refunds.json"
GRAPHQL, TOKEN = "/admin/api/{version}/graphql.json", "/admin/oauth/access_token"
MAX_LIMIT, DEFAULT_LIMIT = 250, 50
STATUSES = ("open", "closed", "cancelled", "any")
TIME_FILTERS = {
    "updated_at_min": ("updated_at", 1),
    "updated_at_max": ("updated_at", -1),
    "created_at_min": ("created_at", 1),
    "created_at_max": ("created_at", -1),
}
FILTERS = ("status", "ids", *TIME_FILTERS)
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
ERROR_TEXT = {
    400: "Bad Request",
    401: INVALID_TOKEN,
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class ShopifySimOptions:
    access_token: str = "demo-shopify-token"
    webhook_secret: str = "demo-webhook-secret"
    shop_domain: str = "demo-shop.myshopify.com"
    api_version: str = "2025-01"  # of the webhooks; the API answers under any version
    currency: str = "NOK"
    utc_offset_minutes: int = 60  # the shop's time zone, in every timestamp it writes
    delivery_timeout_ms: int = 5000  # Shopify: 1 s to connect, 5 s in all
    client_id: str = "demo-shopify-client-id"  # Dev Dashboard app: client-credentials grant
    client_secret: str = "demo-shopify-client-secret"
    token_lifetime_seconds: int = 86399  # what Shopify answers in expires_in (about a day)
    graphql_bucket_size: int = 2000  # Standard plan: 2000 points, restored at 100 per second
    graphql_restore_rate: int = 100
    graphql_max_query_cost: int = 1000  # a single query may cost at most this
    graphql_throttled_status: int = 200  # unconfirmed (200 or 429): see shopify_graphql

    def merged(self, changes: Mapping[str, Any]) -> ShopifySimOptions:
        return merged_options(self, changes)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ShopifySim:
    """One simulated Shopify store (implements admin.SimulatedErp)."""

    def __init__(self, options: ShopifySimOptions) -> None:
        self.initial_options = self.options = options
        self.outbox = Outbox(self._timeout(), lambda status: 200 <= status < 300)
        self._fresh()

    def _fresh(self) -> None:
        self.orders: dict[int, dict[str, Any]] = {}
        self.webhooks: list[dict[str, Any]] = []
        self.outbox.reset()
        self.outbox.timeout = self._timeout()
        self.next_id, self.next_number, self.next_webhook_id = 5_900_000_000_001, 1, 1_100_001
        self.next_refund_id, self.next_refund_line_id = 9_100_000_000_001, 7_100_000_000_001
        self.next_transaction_id = 8_100_000_000_001
        self.tokens = TokenIssuer()
        self.bucket = Bucket(self.options.graphql_bucket_size, self.options.graphql_restore_rate)

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.options.delivery_timeout_ms / 1000, connect=1.0)

    @property
    def clock(self) -> Clock:
        return Clock(self.options.utc_offset_minutes)

    # --- the store's own API ------------------------------------------------------------------

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.url.path.rstrip("/") == TOKEN:
            if request.method != "POST":
                response = Response(status_code=405)
            else:
                o = self.options
                response = await grant(
                    request, self.tokens, o.client_id, o.client_secret, o.token_lifetime_seconds
                )
        elif template_match(GRAPHQL, request.url.path) is not None:
            response = await self._graphql(request)
        else:
            response = self._respond(request)
        await response(scope, receive, send)

    def authorized(self, request: Request) -> bool:
        return self.tokens.valid(
            request.headers.get("x-shopify-access-token"), self.options.access_token
        )

    async def _graphql(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(status_code=405)
        if not self.authorized(request):
            return error(401)
        try:
            body = await read_json(request)
        except ValueError:
            body = None
        shop = {
            "name": self.options.shop_domain.split(".")[0],
            "domain": self.options.shop_domain,
            "currency": self.options.currency,
            "timezone": "Europe/Oslo",
        }
        answer, throttled = execute(
            body,
            self.orders,
            shop,
            self.bucket,
            self.options.graphql_max_query_cost,
            self.options.utc_offset_minutes,
        )
        status = self.options.graphql_throttled_status if throttled else 200
        return JSONResponse(answer, status_code=status)

    def _respond(self, request: Request) -> Response:
        path = request.url.path
        found = [
            (template, params)
            for template in (LIST, ONE, REFUNDS)
            if (params := template_match(template, path)) is not None
        ]
        if not found:
            return error(404)
        if request.method != "GET":
            return Response(status_code=405)
        if not self.authorized(request):
            return error(401)
        template, params = found[0]
        if template in (ONE, REFUNDS):
            order = self.orders.get(int(params["id"])) if params["id"].isdigit() else None
            if order is None:
                return error(404)
            if template == REFUNDS:
                return JSONResponse({"refunds": order.get("refunds") or []})
            return JSONResponse({"order": order})
        return self._list(request)

    def _list(self, request: Request) -> Response:
        query = request.query_params
        limit = positive_int(query.get("limit", str(DEFAULT_LIMIT)))
        if limit is None or limit > MAX_LIMIT:
            return errors(400, {"limit": f"limit must be between 1 and {MAX_LIMIT}"})
        cursor: dict[str, Any] | None = None
        if "page_info" in query:
            extra = [key for key in query if key not in ("page_info", "limit", "fields")]
            if extra:
                return errors(
                    400, {extra[0]: f"{extra[0]} cannot be passed when page_info is present."}
                )
            cursor = decode_cursor(query["page_info"])
            if cursor is None:
                return errors(400, {"page_info": "Invalid value."})
            filters = cursor["filters"]
        else:
            filters = {key: query[key] for key in FILTERS if key in query}
            problem = check_filters(filters)
            if problem:
                return errors(400, problem)
        matching = [
            order
            for _, order in sorted(self.orders.items(), reverse=True)
            if matches(order, filters)
        ]
        page, before, after = cut_page(matching, cursor, limit)
        fields = [name for name in query.get("fields", "").split(",") if name.strip()]
        body = [
            {key: order[key] for key in fields if key in order} if fields else order
            for order in page
        ]
        response = JSONResponse({"orders": body})
        links = []
        base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
        if before:
            links.append(page_link(base, limit, "previous", filters, page[0]["id"], fields))
        if after:
            links.append(page_link(base, limit, "next", filters, page[-1]["id"], fields))
        if links:
            response.headers["Link"] = ", ".join(links)
        return response

    # --- webhooks -----------------------------------------------------------------------------

    def emit(
        self, payload: dict[str, Any], topics: list[str], order_id: Any = None
    ) -> list[Delivery]:
        """Queue one delivery per subscription to each topic, signed over the exact body (the
        order, or for refunds/create the refund: pass its order's id as `order_id`)."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        order_id = payload["id"] if order_id is None else order_id
        queued = []
        for topic in topics:
            event_id = str(uuid.uuid4())
            triggered = datetime.now(UTC).isoformat(timespec="microseconds")
            for subscription in (s for s in self.webhooks if s["topic"] == topic):
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": "Shopify-Captain-Hook",
                    "X-Shopify-Topic": topic,
                    "X-Shopify-Hmac-Sha256": signature(self.options.webhook_secret, body),
                    "X-Shopify-Shop-Domain": self.options.shop_domain,
                    "X-Shopify-API-Version": self.options.api_version,
                    "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                    "X-Shopify-Event-Id": event_id,
                    "X-Shopify-Triggered-At": triggered.replace("+00:00", "Z"),
                }
                delivery = self.outbox.new(
                    "webhook",
                    topic,
                    subscription["address"],
                    headers,
                    body,
                    headers["X-Shopify-Webhook-Id"],
                    str(order_id),
                )
                self.outbox.queue(delivery)
                queued.append(delivery)
        return queued

    # --- what the admin layer needs -----------------------------------------------------------

    def endpoint(self, method: str, path: str) -> str:
        for template in (LIST, ONE, REFUNDS, GRAPHQL, TOKEN):
            if template_match(template, path) is not None:
                return f"{method} {template}"
        return f"{method} {path}"

    def state(self) -> dict[str, list[Any]]:
        return {
            "orders": [self.orders[key] for key in sorted(self.orders)],
            "webhooks": list(self.webhooks),
        }

    def reset(self) -> None:
        self.options = self.initial_options
        self._fresh()

    def error_response(self, status: int) -> Response:
        return error(status)

    def rate_limit_response(self) -> Response:
        return JSONResponse(
            {
                "errors": "Exceeded 2 calls per second for api client. Reduce request rates to "
                "resume uninterrupted service."
            },
            status_code=429,
            headers={"Retry-After": "2.0", "X-Shopify-Shop-Api-Call-Limit": "40/40"},
        )

    def get_config(self) -> dict[str, Any]:
        return self.options.as_json()

    def set_config(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        self.options = self.options.merged(changes)
        self.outbox.timeout = self._timeout()
        if {"graphql_bucket_size", "graphql_restore_rate"} & set(changes):
            self.bucket = Bucket(
                self.options.graphql_bucket_size, self.options.graphql_restore_rate
            )
        return self.options.as_json()

    def admin_routes(self) -> dict[str, AdminHandler]:
        return {}


def error(status: int) -> Response:
    return JSONResponse({"errors": ERROR_TEXT.get(status, "Error")}, status_code=status)


def errors(status: int, fields: dict[str, str]) -> Response:
    return JSONResponse({"errors": fields}, status_code=status)


def check_filters(filters: dict[str, str]) -> dict[str, str] | None:
    if filters.get("status", "open") not in STATUSES:
        return {"status": f"status must be one of {', '.join(STATUSES)}"}
    for name in TIME_FILTERS:
        if name in filters and parse_time(filters[name]) is None:
            return {name: f"{name} is not a valid ISO 8601 time"}
    if "ids" in filters and not all(part.strip().isdigit() for part in filters["ids"].split(",")):
        return {"ids": "ids must be a comma-separated list of order ids"}
    return None


def matches(order: dict[str, Any], filters: dict[str, str]) -> bool:
    status = filters.get("status", "open")
    if status == "open" and (order.get("closed_at") or order.get("cancelled_at")):
        return False
    if status == "closed" and not order.get("closed_at"):
        return False
    if status == "cancelled" and not order.get("cancelled_at"):
        return False
    if "ids" in filters and str(order["id"]) not in {
        part.strip() for part in filters["ids"].split(",")
    }:
        return False
    for name, (field, sign) in TIME_FILTERS.items():
        if name in filters:
            limit, value = parse_time(filters[name]), parse_time(str(order.get(field) or ""))
            if value is None or limit is None or (value - limit).total_seconds() * sign < 0:
                return False  # min: at or after; max: at or before
    return True


def cut_page(
    matching: list[dict[str, Any]],
    cursor: dict[str, Any] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], bool, bool]:
    """(page, more before it, more after it) of newest-first `matching`."""
    if cursor is None:
        return matching[:limit], False, len(matching) > limit
    if cursor["direction"] == "next":
        rest = [order for order in matching if order["id"] < cursor["last_id"]]
        return rest[:limit], len(rest) < len(matching), len(rest) > limit
    earlier = [order for order in matching if order["id"] > cursor["last_id"]]
    return earlier[-limit:], len(earlier) > limit, len(earlier) < len(matching)


def page_link(
    base: str, limit: int, rel: str, filters: dict[str, str], last_id: int, fields: list[str]
) -> str:
    cursor = json.dumps(
        {"direction": "next" if rel == "next" else "prev", "last_id": last_id, "filters": filters},
        separators=(",", ":"),
    )
    token = base64.urlsafe_b64encode(cursor.encode()).decode().rstrip("=")
    extra = f"&fields={','.join(fields)}" if fields else ""
    return f'<{base}?limit={limit}&page_info={token}{extra}>; rel="{rel}"'


def decode_cursor(token: str) -> dict[str, Any] | None:
    try:
        cursor = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(cursor, dict) or cursor.get("direction") not in ("next", "prev"):
        return None
    if not isinstance(cursor.get("last_id"), int) or not isinstance(cursor.get("filters"), dict):
        return None
    return cursor


def create_app(options: ShopifySimOptions | Mapping[str, Any] | None = None) -> ShopSimApp:
    """The simulator's ASGI app; `app.erp` gives in-process access for tests."""
    if isinstance(options, ShopifySimOptions):
        options = options.as_json()
    sim = ShopifySim(ShopifySimOptions().merged(options or {}))
    return ShopSimApp(sim, shopify_admin.routes(sim))


__all__ = ["ShopifySim", "ShopifySimOptions", "create_app"]
