"""What every Sapera handler receives, and the shape of a route; kept apart so handler modules
and the router can both import it.

Handlers return the answer's `value` (or raise SaperaError); the app wraps it in the envelope,
so no handler builds a response.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulators.sapera.auth import Identity
from simulators.sapera.fields import Body
from simulators.sapera.options import SaperaSimOptions
from simulators.sapera.store import Store


@dataclass
class Ctx:
    body: Body
    store: Store
    options: SaperaSimOptions
    identity: Identity
    forced_login_code: Callable[[], int]  # the resultCode the options force now (1: none)


Handler = Callable[[Ctx], Any]


@dataclass(frozen=True)
class Route:
    path: str  # e.g. "api/financial/SalesOrder/CreateSalesOrder" (matched case-insensitively)
    handler: Handler
    model: str  # the T of the answer's "Response<T>"
    public: bool = False  # True: no access token needed (login, refresh)
