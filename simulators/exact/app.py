"""The Exact Online simulator as one ASGI app: routing, the checks in front of every API call, and
the hooks the shared admin layer needs.

Order of checks for `/api/v1/...`: the bearer token (401), the division (403), the division's
minute and day limits (429), then the entity set. The rate headers go on every reply that passed
the limiter, errors included. Routing is our own small table rather than a framework router
because OData paths carry keys inside a segment (`Accounts(guid'…')`) and the call log needs each
route's template.

Call-log templates drop `/api/v1/{division}`: `GET /crm/Accounts`, `PUT /crm/Accounts({id})`,
`GET /salesorder/SalesOrders({id})/SalesOrderLines`, `GET /current/Me`; the OAuth paths are kept
whole (`POST /api/oauth2/token`).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from simulators.admin import AdminHandler, SimApp, admin_error, read_json
from simulators.exact import payments, resources, schema
from simulators.exact.context import Ctx
from simulators.exact.errors import (
    GENERIC_500,
    ApiError,
    error_response,
    render_message,
    text_error,
    unauthorized,
    usual_error,
)
from simulators.exact.items import create_item
from simulators.exact.limits import RateLimiter
from simulators.exact.oauth import Identity
from simulators.exact.options import ExactSimOptions, make_options
from simulators.exact.payload import entity_values
from simulators.exact.schema import EntitySet
from simulators.exact.store import Store
from simulators.exact.values import now_date

log = logging.getLogger(__name__)

AUTH_PATH, TOKEN_PATH, API_PREFIX = "/api/oauth2/auth", "/api/oauth2/token", "/api/v1/"
_SEGMENT = re.compile(r"^([A-Za-z]+)(?:\((.*)\))?$")
STATE_SETS = (
    schema.ACCOUNTS,
    schema.CONTACTS,
    schema.ITEMS,
    schema.SALES_ORDERS,
    schema.SALES_INVOICES,
    schema.SALES_ENTRIES,
    schema.RECEIVABLES,
)


@dataclass(frozen=True)
class Located:
    kind: str  # auth, token, api, unknown
    division: str | None = None  # None for current/Me
    entity_set: EntitySet | None = None
    segment: str = ""  # the entity segment's name as written
    key: str | None = None  # raw text inside the brackets
    nav: str | None = None  # "SalesOrderLines", "$count", ...
    template: str = ""


def locate(path: str) -> Located:
    trimmed = path.rstrip("/") or "/"
    if trimmed.lower() in (AUTH_PATH, TOKEN_PATH):
        kind = "auth" if trimmed.lower() == AUTH_PATH else "token"
        return Located(kind, template=AUTH_PATH if kind == "auth" else TOKEN_PATH)
    if not trimmed.lower().startswith(API_PREFIX):
        return Located("unknown", template=trimmed)
    parts = trimmed[len(API_PREFIX) :].split("/")
    if len(parts) == 2 and parts[0].lower() == "current":
        return _api(None, "current", parts[1], None)
    if len(parts) in (3, 4):
        return _api(parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else None)
    return Located("api", parts[0], segment=parts[-1], template=trimmed)


def _api(division: str | None, service: str, segment: str, nav: str | None) -> Located:
    found = _SEGMENT.match(segment)
    name, key = (found[1], found[2]) if found else (segment, None)
    entity_set = schema.find(service, name)
    if entity_set is None:
        template = f"/{service}/{segment}" + (f"/{nav}" if nav else "")
        return Located("api", division, None, name, template=template)
    template = f"/{entity_set.path}" + ("({id})" if key is not None else "")
    if nav is not None:
        nav = entity_set.lines if nav == entity_set.lines else nav
        template += f"/{nav}"
    return Located("api", division, entity_set, name, key, nav, template)


class ExactSim:
    """One simulated Exact Online company (implements admin.SimulatedErp)."""

    def __init__(self, options: ExactSimOptions) -> None:
        self.initial_options = self.options = options
        self.store = Store(options.division, options.warehouse_id)
        self.identity = Identity()
        self.limiter = RateLimiter()

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._respond(request)
        except Exception:
            log.exception("exact simulator failed on %s %s", request.method, request.url.path)
            response = error_response(500, GENERIC_500)
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        found = locate(request.url.path)
        if found.kind == "auth":
            return (
                self.identity.authorize(request, self.options)
                if request.method == "GET"
                else Response(status_code=405)
            )
        if found.kind == "token":
            return (
                await self.identity.token(request, self.options)
                if request.method == "POST"
                else Response(status_code=405)
            )
        if found.kind == "unknown":
            return error_response(404, "Not found")
        if not self.identity.authorized(request):
            return unauthorized()
        division = self._division(found)
        if isinstance(division, Response):
            return division
        verdict = self.limiter.take(division, self.options)
        if isinstance(verdict, Response):
            return verdict
        try:
            response = await self._dispatch(request, found, division)
        except ApiError as exc:
            response = exc.response(self.options.language)
        except Exception:
            log.exception("exact simulator failed on %s %s", request.method, request.url.path)
            response = error_response(500, GENERIC_500)
        response.headers.update(verdict)
        return response

    def _division(self, found: Located) -> int | Response:
        if found.division is None:
            return self.options.division
        if not found.division.isdigit():
            return error_response(404, "Not found")
        if int(found.division) != self.options.division:
            return error_response(
                self.options.unknown_division_status,
                f"Forbidden: no access to division {found.division}",
            )
        return int(found.division)

    async def _dispatch(self, request: Request, found: Located, division: int) -> Response:
        entity_set, method = found.entity_set, request.method
        if entity_set is None:
            raise text_error(404, f"Resource not found for the segment '{found.segment}'.")
        base = str(request.base_url).rstrip("/") + API_PREFIX.rstrip("/")
        api_root = base if found.division is None else f"{base}/{division}"
        ctx = Ctx(request, self.store, self.options, entity_set, api_root)
        if entity_set is schema.ME:
            self._refresh_me()
        if method not in entity_set.methods:
            raise resources.not_allowed(method)
        if found.nav == "$count" and found.key is None and method == "GET":
            return await resources.count_rows(ctx)
        if found.nav is not None:
            if found.nav != entity_set.lines or found.key is None:
                raise text_error(404, f"Resource not found for the segment '{found.nav}'.")
            if method != "GET":
                raise resources.not_allowed(method)
            return await resources.list_lines(ctx, resources.parse_key(found.key, entity_set))
        if found.key is None:
            handlers = {"GET": resources.list_rows, "POST": resources.create}
            if method not in handlers:
                raise resources.not_allowed(method)
            return await handlers[method](ctx)
        key = resources.parse_key(found.key, entity_set)
        keyed = {"GET": resources.get_one, "PUT": resources.update, "DELETE": resources.delete}
        if method not in keyed:
            raise resources.not_allowed(method)
        return await keyed[method](ctx, key)

    def _refresh_me(self) -> None:
        dutch = self.options.language == "nl"
        self.store.me().update(
            {
                "ServerTime": now_date(),
                "Language": "NL" if dutch else "EN",
                "LanguageCode": "nl-NL" if dutch else "en-US",
                "CurrentDivision": self.options.division,
            }
        )

    def endpoint(self, method: str, path: str) -> str:
        return f"{method} {locate(path).template}"

    def state(self) -> dict[str, list[Any]]:
        return {
            entity_set.name: copy.deepcopy(list(self.store.rows(entity_set)))
            for entity_set in STATE_SETS
        }

    def reset(self) -> None:
        # Issued tokens survive: they belong to the identity server, not to the company, and
        # connectors rightly keep them across test cases.
        self.options = self.initial_options
        self.store = Store(self.options.division, self.options.warehouse_id)
        self.limiter.clear()

    def error_response(self, status: int) -> Response:
        if status == 429:
            return self.rate_limit_response()
        headers = (
            None if status == 401 else self.limiter.headers(self.options.division, self.options)
        )
        return usual_error(status, headers)

    def rate_limit_response(self) -> Response:
        return self.limiter.refusal(self.options.division, self.options)

    def get_config(self) -> dict[str, Any]:
        return self.options.as_json()

    def set_config(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        self.options = self.options.merged(changes)
        company = (self.options.division, self.options.warehouse_id)
        if company != (self.store.division, self.store.warehouse_id):
            self.store.division, self.store.warehouse_id = company
            self.store.seed_reference()
        return self.options.as_json()

    def admin_routes(self) -> dict[str, AdminHandler]:
        return {
            "POST /_sim/expire-tokens": self._expire_tokens,
            "POST /_sim/revoke-refresh-tokens": self._revoke_refresh_tokens,
            "POST /_sim/items": self._item,
            "POST /_sim/payments": self._payment,
            "POST /_sim/invoice-order": self._invoice_order,
        }

    async def _payment(self, request: Request) -> Response:
        return await payments.payment(
            Ctx(request, self.store, self.options, schema.RECEIVABLES, "")
        )

    async def _invoice_order(self, request: Request) -> Response:
        return await payments.invoice_order(
            Ctx(request, self.store, self.options, schema.SALES_INVOICES, "")
        )

    async def _expire_tokens(self, request: Request) -> Response:
        return JSONResponse({"expired": self.identity.expire_all()})

    async def _revoke_refresh_tokens(self, request: Request) -> Response:
        return JSONResponse({"revoked": self.identity.revoke_refresh_tokens()})

    async def _item(self, request: Request) -> Response:
        """Add an item directly, checked like an API create (for "add it in the ERP, replay")."""
        try:
            body = await read_json(request)
        except ValueError as exc:
            return admin_error(400, str(exc))
        if not isinstance(body, dict):
            return admin_error(400, "body must be a JSON object of Item properties")
        ctx = Ctx(request, self.store, self.options, schema.ITEMS, "")
        try:
            row = create_item(ctx, entity_values(body, schema.ITEMS, strict=True))
        except ApiError as exc:
            texts = [render_message(message, "en") for message in exc.messages]
            return admin_error(400, "; ".join(texts))
        self.store.put(schema.ITEMS, row)
        return JSONResponse(row, status_code=201)


def create_app(options: ExactSimOptions | Mapping[str, Any] | None = None) -> SimApp:
    """The simulator's ASGI app; `app.erp` and `app.admin` give in-process access for tests."""
    return SimApp(ExactSim(make_options(options)))
