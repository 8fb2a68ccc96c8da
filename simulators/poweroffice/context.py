"""What every PowerOffice handler receives, and the shape of a route; kept apart so handler
modules and the router can both import it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from simulators.poweroffice.listing import Query
from simulators.poweroffice.options import PowerOfficeSimOptions
from simulators.poweroffice.store import Store


@dataclass
class Ctx:
    request: Request
    params: dict[str, str]
    query: Query
    store: Store
    options: PowerOfficeSimOptions
    base_url: str  # the API base the client used, e.g. "http://127.0.0.1:18081/Demo/v2"


Handler = Callable[[Ctx], Awaitable[Response]]
Route = tuple[str, str, Handler]  # (method, template relative to the base, handler)
