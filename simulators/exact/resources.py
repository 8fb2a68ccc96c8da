"""The generic OData handlers every entity set shares: list, keyed GET, child lines, `$count`,
POST, PUT and DELETE. What differs per set (validation, defaults, numbering) lives in its
writer; this module owns the envelopes, the strict-mode checks and the status codes (POST 201
with the entity, PUT and DELETE 204 with an empty body)."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import PlainTextResponse, Response

from simulators.exact import crm, entries, invoices, items, orders
from simulators.exact.context import Ctx, Row, Writer
from simulators.exact.errors import ApiError, json_response, text_error
from simulators.exact.payload import entity_values, read_body
from simulators.exact.query import (
    ListQuery,
    next_link,
    page_body,
    parse_query,
    render,
    select_page,
    unknown_key,
)
from simulators.exact.schema import LINE_SETS, EntitySet
from simulators.exact.values import guid

WRITERS: dict[str, Writer] = {
    **crm.WRITERS,
    **items.WRITERS,
    **orders.WRITERS,
    **invoices.WRITERS,
    **entries.WRITERS,
}
REQUIRED_FILTER = "A required filter is missing."
SELECT_OR_TOP = "Please add a $select or a $top=1 statement to the query string."
_GUID_KEY = re.compile(r"^guid'([^']*)'$")
_INT_KEY = re.compile(r"^(\d+)[lL]?$")


def parse_key(raw: str, entity_set: EntitySet) -> Any:
    """The key inside `Entity(...)`: `guid'…'` for GUID keys, a number for integer keys."""
    if entity_set.props[entity_set.key].kind == "int":
        found = _INT_KEY.match(raw.strip())
        if found:
            return int(found[1])
    else:
        found = _GUID_KEY.match(raw.strip())
        if found and guid(found[1]):
            return guid(found[1])
    raise text_error(400, "Bad Request - Error in query syntax.")


def _query(ctx: Ctx, entity_set: EntitySet) -> ListQuery:
    return parse_query(
        ctx.request.query_params.multi_items(), entity_set, ctx.options.filter_ignores_case
    )


def _strict_checks(ctx: Ctx, query: ListQuery) -> None:
    entity_set, options = ctx.entity_set, ctx.options
    if (
        options.require_filter
        and entity_set.filter_fields
        and (query.filter is None or not query.filter.fields & set(entity_set.filter_fields))
    ):
        raise text_error(400, REQUIRED_FILTER)
    if options.require_select and entity_set.wide and query.select is None and query.top != 1:
        raise text_error(400, SELECT_OR_TOP)


def _page(ctx: Ctx, entity_set: EntitySet, rows: list[Row], query: ListQuery) -> Response:
    page, total, token, top_left = select_page(rows, query, entity_set, ctx.options.page_size)
    next_url = None if token is None else next_link(ctx.request.url, token, top_left)
    return json_response(page_body(page, entity_set, ctx.api_root, query, total, next_url))


async def list_rows(ctx: Ctx) -> Response:
    query = _query(ctx, ctx.entity_set)
    _strict_checks(ctx, query)
    return _page(ctx, ctx.entity_set, list(ctx.store.rows(ctx.entity_set)), query)


async def count_rows(ctx: Ctx) -> Response:
    query = _query(ctx, ctx.entity_set)
    rows = [
        row
        for row in ctx.store.rows(ctx.entity_set)
        if query.filter is None or query.filter.matches(row)
    ]
    return PlainTextResponse(str(len(rows)))


async def get_one(ctx: Ctx, key: Any) -> Response:
    query = _query(ctx, ctx.entity_set)
    row = _existing(ctx, key)
    return json_response(
        {"d": render(row, ctx.entity_set, ctx.api_root, query.select, query.expand)}
    )


async def list_lines(ctx: Ctx, key: Any) -> Response:
    """`SalesOrders(guid'…')/SalesOrderLines`: the URI a `__deferred` link points at."""
    parent = _existing(ctx, key)
    line_set = LINE_SETS[ctx.entity_set.path]
    return _page(ctx, line_set, list(parent[ctx.entity_set.lines or ""]), _query(ctx, line_set))


async def create(ctx: Ctx) -> Response:
    body = await read_body(ctx.request)
    values = entity_values(body, ctx.entity_set, ctx.options.reject_unknown_fields)
    row = _writer(ctx).create(ctx, values)
    if ctx.entity_set.path in ctx.store.tables:
        ctx.store.put(ctx.entity_set, row)
    reply = render(row, ctx.entity_set, ctx.api_root, inline_lines=True)
    prefer = ctx.request.headers.get("prefer", "").lower()
    if not ctx.options.full_reply_without_prefer and "return=representation" not in prefer:
        kept = {*body, "__metadata", ctx.entity_set.key}
        reply = {name: value if name in kept else None for name, value in reply.items()}
    return json_response({"d": reply}, 201)


async def update(ctx: Ctx, key: Any) -> Response:
    row = _existing(ctx, key)
    writer = _writer(ctx)
    if writer.update is None:
        raise not_allowed("PUT")
    body = await read_body(ctx.request)
    values = entity_values(
        body, ctx.entity_set, ctx.options.reject_unknown_fields, with_lines=False
    )
    ctx.store.put(ctx.entity_set, writer.update(ctx, row, values))
    return Response(status_code=204)


async def delete(ctx: Ctx, key: Any) -> Response:
    row = _existing(ctx, key)
    writer = _writer(ctx)
    if writer.delete is None:
        raise not_allowed("DELETE")
    writer.delete(ctx, row)
    del ctx.store.tables[ctx.entity_set.path][key]
    return Response(status_code=204)


def _existing(ctx: Ctx, key: Any) -> Row:
    row = ctx.store.get(ctx.entity_set, key)
    if row is None:
        raise unknown_key(ctx.entity_set)
    return row


def _writer(ctx: Ctx) -> Writer:
    writer = WRITERS.get(ctx.entity_set.path)
    if writer is None:
        raise not_allowed(ctx.request.method)
    return writer


def not_allowed(method: str) -> ApiError:
    return text_error(405, f"The requested resource does not support http method '{method}'.")
