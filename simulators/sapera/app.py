"""The Sapera (CRS) simulator as one ASGI app: the token check in front, routing, and the hooks
the shared admin layer needs.

Every API call is `POST /api/<microservice>/<Controller>/<Action>` with a JSON body, matched
case-insensitively (the docs mix `actor` and `Actor`). Routing is a small table rebuilt from the
options on every call, because the unconfirmed URLs are options; the call log and faults name
each route by its canonical template, e.g. `POST /api/financial/SalesOrder/CreateSalesOrder`.
Order of checks: login and refresh need no token; any other path needs a live one (401,
AuthenticationRequired), then must be a known action called with POST (404, MethodNotFound).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from simulators.admin import AdminHandler, SimApp, admin_error, json_object, read_json
from simulators.sapera import (
    actors,
    inventory,
    invoicepage,
    invoices,
    orderpage,
    payments,
    salesorders,
)
from simulators.sapera.auth import SUCCESS, Identity
from simulators.sapera.catalogue import add_product, product_view, seed, set_demo_catalogue
from simulators.sapera.context import Ctx, Route
from simulators.sapera.envelope import (
    OBJECT,
    Code,
    SaperaError,
    error_response,
    rate_limited,
    usual_error,
    validation,
    value_response,
)
from simulators.sapera.fields import Body
from simulators.sapera.options import SaperaSimOptions, make_options
from simulators.sapera.store import Store

log = logging.getLogger(__name__)

LOGIN_PATH = "api/security/Authentication/Login"
REFRESH_PATH = "api/security/authentication/loginWithRefreshToken"


def login(ctx: Ctx) -> dict[str, Any]:
    return ctx.identity.login(ctx.body, ctx.options, ctx.store, ctx.forced_login_code)


def refresh(ctx: Ctx) -> dict[str, Any]:
    return ctx.identity.refresh(ctx.body, ctx.options, ctx.forced_login_code)


def routes(options: SaperaSimOptions) -> dict[str, Route]:
    """The routes by lowercased path."""
    table = [
        Route(LOGIN_PATH, login, "LoginResult", public=True),
        Route(REFRESH_PATH, refresh, "LoginResult", public=True),
        *actors.routes(),
        *inventory.routes(options),
        *salesorders.routes(options),
        *orderpage.routes(),
        *invoices.routes(options),
        *invoicepage.routes(options),
    ]
    return {route.path.lower(): route for route in table}


def _key(path: str) -> str:
    return path.strip("/").lower()


class SaperaSim:
    """One simulated Sapera tenant (implements admin.SimulatedErp)."""

    def __init__(self, options: SaperaSimOptions) -> None:
        self.initial_options = self.options = options
        self.identity = Identity()
        self.store = _seeded(options)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        route = routes(self.options).get(_key(request.url.path))
        model = route.model if route else OBJECT
        try:
            value = await self._respond(request, route)
            response = value_response(value, model)
        except SaperaError as exc:
            response = error_response(exc.code, exc.message, model)
        except Exception:
            log.exception("sapera simulator failed on %s %s", request.method, request.url.path)
            response = error_response(
                Code.INTERNAL_ERROR, "Unexpected error in the simulator.", model
            )
        await response(scope, receive, send)

    async def _respond(self, request: Request, route: Route | None) -> Any:
        public = route is not None and route.public
        if not public and not self.identity.authorized(request.headers.get("authorization")):
            raise SaperaError(
                Code.AUTHENTICATION_REQUIRED,
                "Authentication required: the access token is missing, unknown or expired.",
            )
        if route is None or request.method != "POST":
            raise SaperaError(
                Code.METHOD_NOT_FOUND,
                f"No action {request.method} {request.url.path}; every action is "
                "POST /api/<microservice>/<Controller>/<Action>.",
            )
        try:
            raw = await json_object(request)
        except ValueError as exc:
            raise validation(f"The request {exc}.") from None
        body = Body(raw, self.options.strict_wrappers)
        return route.handler(
            Ctx(body, self.store, self.options, self.identity, self._forced_login_code)
        )

    def _forced_login_code(self) -> int:
        """The resultCode the options force on this login (1: none), counting it down."""
        code, left = self.options.login_result_code, self.options.login_result_count
        if code != SUCCESS and left:
            changes: dict[str, Any] = {"login_result_count": left - 1}
            if left == 1:
                changes["login_result_code"] = SUCCESS
            self.options = self.options.merged(changes)
        return code

    def endpoint(self, method: str, path: str) -> str:
        route = routes(self.options).get(_key(path))
        return f"{method} /{route.path}" if route else f"{method} {path.rstrip('/') or '/'}"

    def state(self) -> dict[str, list[Any]]:
        store = self.store
        return copy.deepcopy(
            {
                "actors": list(store.actors.values()),
                "products": [product_view(store, p) for p in store.products.values()],
                "salesOrders": list(store.orders.values()),
                "invoices": list(store.invoices.values()),
                "users": list(store.users),
            }
        )

    def reset(self) -> None:
        # Issued tokens survive: they belong to the security service, not to the tenant's data,
        # and connectors rightly keep them across test cases.
        self.options = self.initial_options
        self.store = _seeded(self.options)

    def error_response(self, status: int) -> Response:
        return usual_error(status)

    def rate_limit_response(self) -> Response:
        return rate_limited()

    def get_config(self) -> dict[str, Any]:
        return self.options.as_json()

    def set_config(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        self.options = self.options.merged(changes)
        set_demo_catalogue(self.store, self.options.demo_catalogue)
        return self.options.as_json()

    def admin_routes(self) -> dict[str, AdminHandler]:
        return {
            "POST /_sim/expire-tokens": self._expire_tokens,
            "POST /_sim/products": self._product,
            "POST /_sim/payments": self._payment,
        }

    async def _expire_tokens(self, request: Request) -> Response:
        return JSONResponse({"expired": self.identity.expire_all()})

    async def _product(self, request: Request) -> Response:
        """Add a product (with `variants` and `instances`) as the tenant's staff would."""
        try:
            return JSONResponse(add_product(self.store, await read_json(request)), status_code=201)
        except ValueError as exc:
            return admin_error(400, str(exc))

    async def _payment(self, request: Request) -> Response:
        """A payment registered on an invoice (payments.py); answers the invoice as the API
        now shows it."""
        try:
            invoice = payments.pay(self.store, self.options, await json_object(request))
        except ValueError as exc:
            return admin_error(400, str(exc))
        return JSONResponse(invoices.view(invoice, self.options))


def _seeded(options: SaperaSimOptions) -> Store:
    store = Store()
    seed(store, options.demo_catalogue)
    return store


def create_app(options: SaperaSimOptions | Mapping[str, Any] | None = None) -> SimApp:
    """The simulator's ASGI app; `app.erp` and `app.admin` give in-process access for tests."""
    return SimApp(SaperaSim(make_options(options)))
