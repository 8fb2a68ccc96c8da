"""What every Duett handler receives, and the shape of a route; kept apart so handler modules
and the router can both import it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from simulators.duett.options import DuettSimOptions
from simulators.duett.problems import not_found
from simulators.duett.store import Store


@dataclass
class Ctx:
    request: Request
    params: dict[str, str]
    store: Store
    options: DuettSimOptions

    def entity_id(self, entity: str) -> int:
        """The `{id}` of the path; a non-number can match no entity, so it is a 404 as well."""
        raw = self.params["id"]
        if not raw.isdigit():
            raise not_found(f"{entity} with id {raw} was not found.")
        return int(raw)


Handler = Callable[[Ctx], Awaitable[Response]]
Route = tuple[str, str, Handler]  # (method, template such as "/Order/v2/{id}", handler)
