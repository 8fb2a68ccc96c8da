"""The Duett simulator as one ASGI app: the key check in front, routing, and the hooks the shared
admin layer needs.

Routing is a small table of our own, rebuilt from the options on every call, because every path
is an option (the v2 routes of the core entities are guesses), ASP.NET matches paths
case-insensitively, and the call log and faults name each route by its template, e.g.
`POST /Order/v2` or `PATCH /Customer/v2/{id}`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from simulators.admin import AdminHandler, SimApp, match_template
from simulators.duett import articles, customers, ledger, orders, register
from simulators.duett.context import Ctx, Route
from simulators.duett.options import DuettSimOptions, make_options
from simulators.duett.problems import ApiError, problem, rate_limited, usual_error
from simulators.duett.store import Store

log = logging.getLogger(__name__)

INTEGRATION_HEADER = "X-Api-Integration-Key"
CLIENT_HEADER = "X-Api-Client-Key"


def routes(options: DuettSimOptions) -> list[Route]:
    return [
        *orders.routes(f"/{options.order_path}"),
        *customers.routes(f"/{options.customer_path}"),
        *articles.routes(f"/{options.article_path}"),
        *register.routes(
            f"/{options.zipcodes_path}",
            f"/{options.account_intervals_path}",
            f"/{options.stylesheets_path}",
        ),
        *(ledger.routes(f"/{options.voucher_report_path}") if options.voucher_report else []),
    ]


def match(
    table: list[Route], method: str, path: str
) -> tuple[Route | None, dict[str, str], Route | None]:
    """The route for method and path with its parameters, and any route of the same path (a
    known path with another method is a 405, and the call log still names its template)."""
    segments = path.strip("/").split("/")
    same_path: Route | None = None
    for route in table:
        params = match_template(route[1], segments)
        if params is None:
            continue
        same_path = same_path or route
        if route[0] == method:
            return route, params, route
    return None, {}, same_path


class DuettSim:
    """One simulated Duett company (implements admin.SimulatedErp)."""

    def __init__(self, options: DuettSimOptions) -> None:
        self.initial_options = self.options = options
        self.store = Store()

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._respond(request)
        except ApiError as exc:
            response = exc.response(request.url.path)
        except Exception:
            log.exception("duett simulator failed on %s %s", request.method, request.url.path)
            response = problem(500, "Internal Server Error", "Unexpected error in the simulator.")
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        refusal = self._refuse_keys(request)
        if refusal is not None:
            return refusal
        route, params, known = match(routes(self.options), request.method, request.url.path)
        if route is None:
            status = 405 if known else 404
            return problem(
                status, "Method Not Allowed" if known else "Not Found", None, request.url.path
            )
        return await route[2](Ctx(request, params, self.store, self.options))

    def _refuse_keys(self, request: Request) -> Response | None:
        """Both keys on every call: the integration's and the Duett customer's."""
        for header, expected in (
            (INTEGRATION_HEADER, self.options.integration_key),
            (CLIENT_HEADER, self.options.client_key),
        ):
            given = request.headers.get(header)
            if given is None or not secrets.compare_digest(given.encode(), expected.encode()):
                status = self.options.auth_failure_status
                detail = f"{'Missing' if given is None else 'Invalid'} {header}."
                return problem(
                    status,
                    "Unauthorized" if status == 401 else "Forbidden",
                    detail,
                    request.url.path,
                )
        return None

    def endpoint(self, method: str, path: str) -> str:
        _, _, route = match(routes(self.options), method, path)
        return f"{method} {route[1] if route else path.rstrip('/') or '/'}"

    def state(self) -> dict[str, list[Any]]:
        return {
            "customers": list(self.store.customers.values()),
            "articles": list(self.store.articles.values()),
            "orders": list(self.store.orders.values()),
            "ledger": list(self.store.ledger.values()),
        }

    def reset(self) -> None:
        self.options = self.initial_options
        self.store = Store()

    def error_response(self, status: int) -> Response:
        return usual_error(status)

    def rate_limit_response(self) -> Response:
        return rate_limited()

    def get_config(self) -> dict[str, Any]:
        return self.options.as_json()

    def set_config(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        self.options = self.options.merged(changes)
        return self.options.as_json()

    def admin_routes(self) -> dict[str, AdminHandler]:
        return {"POST /_sim/payments": ledger.payment_route(lambda: self.store)}


def create_app(options: DuettSimOptions | Mapping[str, Any] | None = None) -> SimApp:
    """The simulator's ASGI app; `app.erp` and `app.admin` give in-process access for tests."""
    return SimApp(DuettSim(make_options(options)))
