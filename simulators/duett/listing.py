"""A list GET the way Duett answers one: a bare JSON array, no envelope and no total count.

Whether an empty list is `[]` or a 404 "Not Found" is unconfirmed (the v1 client treats a 404 on
a list as no rows), so it is the `list_404_when_empty` option.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.responses import Response

from simulators.duett.context import Ctx
from simulators.duett.problems import invalid, json_response, not_found
from simulators.duett.query import Filterable, parse, select


def list_response(
    ctx: Ctx,
    rows: Iterable[dict[str, Any]],
    filterable: Filterable,
    aliases: dict[str, str] | None = None,
    unfilterable: tuple[str, ...] = (),
) -> Response:
    query = parse(ctx.request.query_params.multi_items())
    for name, _ in query.conditions:
        if name.lower() in (u.lower() for u in unfilterable):
            raise invalid(f"filter[{name}]", f"The property '{name}' can not be filtered on.")
    page = select(rows, query, filterable, aliases, ctx.options.max_take)
    if not page and ctx.options.list_404_when_empty:
        raise not_found("Not Found")
    return json_response(page)
