"""The PowerOffice Go simulator as one ASGI app: routing, the gateway in front, and the hooks the
shared admin layer needs.

Routing is our own small table rather than a framework router because the real service matches
paths case-insensitively (clients write `/demo/oauth/Token` and `SentState`), serves the same API
under `/v2` and `/Demo/v2`, and the call log needs each route's template.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from simulators.admin import AdminHandler, SimApp, match_template
from simulators.poweroffice import customers, invoices, orders, payments, products, reference
from simulators.poweroffice.auth import Gateway
from simulators.poweroffice.context import Ctx, Route
from simulators.poweroffice.listing import Query
from simulators.poweroffice.options import PowerOfficeSimOptions, make_options
from simulators.poweroffice.problems import (
    ApiError,
    gateway_error,
    invalid_resource,
    problem,
    rate_limited,
    unauthorized,
    usual_error,
)
from simulators.poweroffice.store import Store

log = logging.getLogger(__name__)

API_BASES = ("/demo/v2", "/v2")
TOKEN_PATHS = ("/oauth/token", "/demo/oauth/token")
TOKEN_TEMPLATE = "/OAuth/Token"
ROUTES: list[Route] = [
    *reference.ROUTES,
    *customers.ROUTES,
    *products.ROUTES,
    *orders.ROUTES,
    *invoices.ROUTES,
]


def locate(path: str) -> tuple[str, str, str]:
    """(kind, base, rest): kind is "token", "api" or "unknown"; rest is the path under the base."""
    trimmed = path.rstrip("/") or "/"
    if trimmed.lower() in TOKEN_PATHS:
        return "token", "", TOKEN_TEMPLATE
    for base in API_BASES:
        if trimmed.lower().startswith(base + "/"):
            return "api", trimmed[: len(base)], trimmed[len(base) :]
    return "unknown", "", trimmed


def match(method: str, rest: str) -> tuple[Route | None, dict[str, str], bool]:
    """The most specific route for method and path, its path parameters, and whether the path
    is known at all (a known path with another method is a 405)."""
    segments = rest.strip("/").split("/")
    found: list[tuple[int, Route, dict[str, str]]] = []
    path_known = False
    for route in ROUTES:
        params = match_template(route[1], segments)
        if params is None:
            continue
        path_known = True
        if route[0] == method:
            literals = sum(1 for part in route[1].split("/") if part and not part.startswith("{"))
            found.append((literals, route, params))
    if not found:
        return None, {}, path_known
    _, route, params = max(found, key=lambda item: item[0])
    return route, params, True


class PowerOfficeSim:
    """One simulated PowerOffice Go client company (implements admin.SimulatedErp)."""

    def __init__(self, options: PowerOfficeSimOptions) -> None:
        self.initial_options = self.options = options
        self.store = Store()
        self.gateway = Gateway()

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._respond(request)
        except ApiError as exc:
            response = exc.response(request.url.path)
        except Exception:
            log.exception("poweroffice simulator failed on %s %s", request.method, request.url.path)
            response = problem(500, "Internal Server Error", "Unexpected error in the simulator.")
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        kind, base, rest = locate(request.url.path)
        if kind == "unknown":
            return gateway_error(404, "Resource not found")
        refusal = self.gateway.admit(request, self.options)
        if refusal is not None:
            return refusal
        if kind == "token":
            if request.method != "POST":
                return Response(status_code=405)
            return await self.gateway.issue_token(request, self.options)
        route, params, known = match(request.method, rest)
        if route is None:
            return Response(status_code=405) if known else gateway_error(404, "Resource not found")
        if not self.gateway.authorized(request):
            return unauthorized()
        query = Query(request.query_params.multi_items(), self.options.open_start_ranges)
        if query.odata_keys():
            raise invalid_resource(
                f"OData query options are not supported: {', '.join(query.odata_keys())}."
            )
        invoices.settle(self.store, self.options)
        api_base = str(request.base_url).rstrip("/") + base
        return await route[2](Ctx(request, params, query, self.store, self.options, api_base))

    def endpoint(self, method: str, path: str) -> str:
        kind, _, rest = locate(path)
        if kind != "api":
            return f"{method} {rest}"
        route, _, _ = match(method, rest)
        if route is None:
            route = next(
                (r for r in ROUTES if match_template(r[1], rest.strip("/").split("/")) is not None),
                None,
            )
        return f"{method} {route[1] if route else rest}"

    def state(self) -> dict[str, list[Any]]:
        invoices.settle(self.store, self.options)
        return {
            "Customers": list(self.store.customers.values()),
            "Products": list(self.store.products.values()),
            "SalesOrders": list(self.store.orders.values()),
            "OutgoingInvoices": list(self.store.invoices.values()),
        }

    def reset(self) -> None:
        # Issued tokens survive: they belong to the identity server, not to the client company,
        # and connectors rightly cache them across test cases.
        self.options = self.initial_options
        self.store = Store()
        self.gateway.clear_throttle()

    def error_response(self, status: int) -> Response:
        return usual_error(status, self.options.send_retry_after)

    def rate_limit_response(self) -> Response:
        return rate_limited(self.options.send_retry_after)

    def get_config(self) -> dict[str, Any]:
        return self.options.as_json()

    def set_config(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        self.options = self.options.merged(changes)
        return self.options.as_json()

    def admin_routes(self) -> dict[str, AdminHandler]:
        # Lambdas, not values: a reset or a config change replaces the store and the options.
        return {
            "POST /_sim/payments": payments.payment_route(lambda: self.store, lambda: self.options)
        }


def create_app(options: PowerOfficeSimOptions | Mapping[str, Any] | None = None) -> SimApp:
    """The simulator's ASGI app; `app.erp` and `app.admin` give in-process access for tests."""
    return SimApp(PowerOfficeSim(make_options(options)))
