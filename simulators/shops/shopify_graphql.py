"""The Shopify simulator's GraphQL Admin API: `POST /admin/api/{version}/graphql.json`.

What a reconciling client meets at Shopify (shopify.dev, "GraphQL Admin API rate limits" and the
Admin API reference):

- Root fields `orders(first|last, after|before, query, sortKey, reverse)`, `order(id)`, `shop`.
  Connections are Relay-style (`edges {cursor node}`, `nodes`, `pageInfo {hasNextPage,
  hasPreviousPage, startCursor, endCursor}`), need `first` or `last` (at most 250), and page by
  opaque cursors that stay valid while orders change. `query` is Shopify's search syntax:
  `updated_at:>'2026-01-01T00:00:00Z'` (also `>=`, `<`, `<=`, plain `:`), `created_at`,
  `processed_at`, `id`, `status`, `financial_status`, `name`, `email`, terms joined by spaces
  or AND; an unknown field is ignored with a warning in `extensions.search`, as Shopify does.
- Calculated query cost: scalars and enums 0, objects 1, a connection 2 + `first` × its node's
  cost; the requested cost is taken from a leaky bucket before running and the difference to the
  actual cost (what was returned) given back. `extensions.cost` reports `requestedQueryCost`,
  `actualQueryCost` and `throttleStatus {maximumAvailable, currentlyAvailable, restoreRate}`.
  When the bucket holds less than the requested cost the answer is the `THROTTLED` error with no
  data; a query costing more than the single-query limit fails with `MAX_COST_EXCEEDED`.
  Unconfirmed: the HTTP status of a throttled answer (forum reports say 200 or 429; the docs
  do not say), so it is the option `graphql_throttled_status` (default 200).
- Validation errors (unknown fields, bad syntax) come back with status 200 and no data, like
  any GraphQL server; a missing or expired token is a 401 before any of this.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from simulators.shops.common import parse_time
from simulators.shops.graphql_parse import (
    Field,
    FragmentSpread,
    GraphQLSyntaxError,
    InlineFragment,
    Selection,
    parse,
    resolve_value,
)
from simulators.shops.shopify_graphql_schema import ORDER_SORT_KEYS, TYPES, Ref, Spec

MAX_PAGE = 250
PAGE_INFO = ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor")
ROOT: dict[str, Spec] = {
    "orders": Spec("connection", "Order", lambda ref, args: []),
    "order": Spec("object", "Order", lambda ref, args: None),
    "shop": Spec("object", "Shop", lambda ref, args: None),
}
SEARCH_TERM = re.compile(r"""(?P<field>\w+):(?P<op>>=|<=|>|<)?(?P<value>'[^']*'|"[^"]*"|\S+)""")
TIME_FIELDS = ("updated_at", "created_at", "processed_at")


class QueryError(Exception):
    """A GraphQL error: the request is answered with `errors` and no data."""

    def __init__(
        self, message: str, code: str | None = None, path: list[Any] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.body: dict[str, Any] = {"message": message}
        if path:
            self.body["path"] = path
        if code:
            self.body["extensions"] = {"code": code, **extra}


class Bucket:
    """Shopify's leaky bucket of query cost points for one app on one store."""

    def __init__(self, size: int, restore_rate: int) -> None:
        self.size, self.rate = size, restore_rate
        self.level = float(size)
        self.at = time.monotonic()
        self.lock = threading.Lock()

    def available(self) -> float:
        now = time.monotonic()
        self.level = min(float(self.size), self.level + (now - self.at) * self.rate)
        self.at = now
        return self.level

    def take(self, cost: int) -> bool:
        with self.lock:
            if self.available() < cost:
                return False
            self.level -= cost
            return True

    def give_back(self, points: int) -> None:
        with self.lock:
            self.level = min(float(self.size), self.available() + points)

    def status(self) -> dict[str, Any]:
        with self.lock:
            return {
                "maximumAvailable": float(self.size),
                "currentlyAvailable": int(self.available()),
                "restoreRate": float(self.rate),
            }


@dataclass
class Context:
    orders: dict[int, dict[str, Any]]
    shop: dict[str, Any]
    variables: dict[str, Any]
    fragments: dict[str, InlineFragment]
    offset_minutes: int
    search: list[dict[str, Any]] = field(default_factory=list)


def execute(
    body: Any,
    orders: dict[int, dict[str, Any]],
    shop: dict[str, Any],
    bucket: Bucket,
    max_cost: int,
    offset_minutes: int,
) -> tuple[dict[str, Any], bool]:
    """(answer, throttled) for one GraphQL request body."""
    try:
        query, variables, operation_name = _request(body)
        document = parse(query)
        operations = [
            op for op in document.operations if operation_name is None or op.name == operation_name
        ]
        if len(operations) != 1:
            raise QueryError(
                "An operation name is required"
                if operations
                else f'No operation named "{operation_name}"'
            )
        operation = operations[0]
        ctx = Context(
            orders, shop, {**operation.defaults, **variables}, document.fragments, offset_minutes
        )
        ctx.variables = {k: resolve_value(v, {}) for k, v in ctx.variables.items()}
        root_type = "QueryRoot" if operation.kind == "query" else operation.kind.capitalize()
        requested = requested_cost(
            operation.selections, ROOT if root_type == "QueryRoot" else {}, root_type, ctx, []
        )
    except GraphQLSyntaxError as exc:
        return {"errors": [{"message": str(exc), "extensions": {"code": "PARSE_ERROR"}}]}, False
    except QueryError as exc:
        return {"errors": [exc.body]}, False
    if requested > max_cost:
        return {
            "errors": [
                {
                    "message": f"Query cost is {requested}, which exceeds the single "
                    f"query max cost limit ({max_cost}).",
                    "extensions": {
                        "code": "MAX_COST_EXCEEDED",
                        "cost": requested,
                        "maxCost": max_cost,
                    },
                }
            ],
            "extensions": _cost(requested, None, bucket),
        }, False
    if not bucket.take(requested):
        return {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {
                        "code": "THROTTLED",
                        "documentation": "https://shopify.dev/api/usage/rate-limits",
                    },
                }
            ],
            "extensions": _cost(requested, None, bucket),
        }, True
    try:
        data, actual = select(operation.selections, ROOT, "QueryRoot", Ref(None, {}), ctx, [])
    except QueryError as exc:
        bucket.give_back(requested)
        return {"errors": [exc.body], "extensions": _cost(requested, 0, bucket)}, False
    bucket.give_back(max(0, requested - actual))
    extensions: dict[str, Any] = _cost(requested, actual, bucket)
    if ctx.search:
        extensions["search"] = ctx.search
    return {"data": data, "extensions": extensions}, False


def _request(body: Any) -> tuple[str, dict[str, Any], str | None]:
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise QueryError("No query string was present")
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        raise QueryError("Variables must be a JSON object")
    name = body.get("operationName")
    return body["query"], variables, name if isinstance(name, str) and name else None


def _cost(requested: int, actual: int | None, bucket: Bucket) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": bucket.status(),
        }
    }


# --- walking the selections ---------------------------------------------------------------------


def fields_of(selections: list[Selection], type_name: str, ctx: Context) -> list[Field]:
    """The fields selected on a type, fragments spread in."""
    found: list[Field] = []
    for selection in selections:
        if isinstance(selection, Field):
            found.append(selection)
        elif isinstance(selection, InlineFragment):
            if selection.type_condition in (None, type_name):
                found.extend(fields_of(selection.selections, type_name, ctx))
        elif isinstance(selection, FragmentSpread):
            fragment = ctx.fragments.get(selection.name)
            if fragment is None:
                raise QueryError(
                    f"Fragment {selection.name} was used, but not defined",
                    "useAndDefineFragment",
                    fragmentName=selection.name,
                )
            if fragment.type_condition == type_name:
                found.extend(fields_of(fragment.selections, type_name, ctx))
    return found


def _spec(specs: dict[str, Spec], type_name: str, item: Field, path: list[Any]) -> Spec:
    spec = specs.get(item.name)
    if spec is None:
        raise QueryError(
            f"Field '{item.name}' doesn't exist on type '{type_name}'",
            "undefinedField",
            path,
            typeName=type_name,
            fieldName=item.name,
        )
    if spec.kind == "scalar" and item.selections:
        raise QueryError(
            f"Selections can't be made on scalars (field '{item.name}' returns a scalar)",
            "selectionMismatch",
            path,
            nodeName=f"field '{item.name}'",
        )
    if spec.kind != "scalar" and not item.selections:
        raise QueryError(
            f"Field must have selections (field '{item.name}' returns "
            f"{spec.type} but has no selections.)",
            "selectionMismatch",
            path,
            nodeName=f"field '{item.name}'",
        )
    return spec


def page_size(item: Field, ctx: Context, path: list[Any]) -> int:
    args = {k: resolve_value(v, ctx.variables) for k, v in item.arguments.items()}
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise QueryError("you must provide one of first or last", None, path)
    size = first if first is not None else last
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise QueryError(
            f"Argument '{'first' if first is not None else 'last'}' on Field "
            f"'{item.name}' has an invalid value",
            "argumentLiteralsIncompatible",
            path,
        )
    if size > MAX_PAGE:
        raise QueryError(
            f"The {'first' if first is not None else 'last'} argument is limited to {MAX_PAGE}",
            None,
            path,
        )
    return size


def requested_cost(
    selections: list[Selection],
    specs: dict[str, Spec],
    type_name: str,
    ctx: Context,
    path: list[Any],
) -> int:
    """The cost Shopify computes before running: every connection assumed full."""
    total = 0
    for item in fields_of(selections, type_name, ctx):
        where = [*path, item.key]
        if item.name == "__typename":
            continue
        spec = _spec(specs, type_name, item, where)
        if spec.kind == "scalar":
            continue
        if spec.kind == "connection":
            size = page_size(item, ctx, where)
            node_cost = 0
            for part in fields_of(item.selections, f"{spec.type}Connection", ctx):
                node_cost += _connection_part_cost(part, spec.type, ctx, [*where, part.key])
            total += 2 + size * node_cost
        else:
            total += 1 + requested_cost(item.selections, TYPES[spec.type], spec.type, ctx, where)
    return total


def _connection_part_cost(part: Field, node_type: str, ctx: Context, path: list[Any]) -> int:
    if part.name == "pageInfo":
        for info in fields_of(part.selections, "PageInfo", ctx):
            if info.name not in (*PAGE_INFO, "__typename"):
                raise QueryError(
                    f"Field '{info.name}' doesn't exist on type 'PageInfo'",
                    "undefinedField",
                    path,
                    typeName="PageInfo",
                    fieldName=info.name,
                )
        return 0
    if part.name == "nodes":
        return 1 + requested_cost(part.selections, TYPES[node_type], node_type, ctx, path)
    if part.name == "edges":
        cost = 0
        for edge in fields_of(part.selections, f"{node_type}Edge", ctx):
            if edge.name == "node":
                cost += 1 + requested_cost(
                    edge.selections, TYPES[node_type], node_type, ctx, [*path, "node"]
                )
            elif edge.name not in ("cursor", "__typename"):
                raise QueryError(
                    f"Field '{edge.name}' doesn't exist on type '{node_type}Edge'",
                    "undefinedField",
                    path,
                    typeName=f"{node_type}Edge",
                    fieldName=edge.name,
                )
        return cost
    if part.name == "__typename":
        return 0
    raise QueryError(
        f"Field '{part.name}' doesn't exist on type '{node_type}Connection'",
        "undefinedField",
        path,
        typeName=f"{node_type}Connection",
        fieldName=part.name,
    )


def select(
    selections: list[Selection],
    specs: dict[str, Spec],
    type_name: str,
    ref: Ref,
    ctx: Context,
    path: list[Any],
) -> tuple[dict[str, Any], int]:
    """The selected fields of one object, and what they actually cost."""
    out: dict[str, Any] = {}
    cost = 0
    for item in fields_of(selections, type_name, ctx):
        where = [*path, item.key]
        if item.name == "__typename":
            out[item.key] = type_name
            continue
        spec = specs[item.name]
        args = {k: resolve_value(v, ctx.variables) for k, v in item.arguments.items()}
        if type_name == "QueryRoot":
            value, spent = _root(item, args, ctx, where)
        elif spec.kind == "scalar":
            value, spent = spec.get(ref, args), 0
        elif spec.kind == "object":
            child = spec.get(ref, args)
            value, spent = (
                (None, 0) if child is None else _object(item, spec.type, child, ctx, where)
            )
        elif spec.kind == "list":
            children = spec.get(ref, args)
            if isinstance(args.get("first"), int):
                children = children[: args["first"]]
            value, spent = [], 1
            for index, child in enumerate(children):
                one, one_cost = select(
                    item.selections, TYPES[spec.type], spec.type, child, ctx, [*where, index]
                )
                value.append(one)
                spent += one_cost
        else:
            items = spec.get(ref, args)
            keyed = [((index,), child) for index, child in enumerate(items)]
            value, spent = connection(item, spec.type, keyed, args, ctx, where)
        out[item.key] = value
        cost += spent
    return out, cost


def _object(
    item: Field, type_name: str, child: Ref, ctx: Context, path: list[Any]
) -> tuple[dict[str, Any], int]:
    value, spent = select(item.selections, TYPES[type_name], type_name, child, ctx, path)
    return value, 1 + spent


def _root(item: Field, args: dict[str, Any], ctx: Context, path: list[Any]) -> tuple[Any, int]:
    if item.name == "shop":
        return _object(item, "Shop", Ref(ctx.shop, {}), ctx, path)
    if item.name == "order":
        order = ctx.orders.get(_numeric_id(args.get("id"), "Order", path))
        return (None, 1) if order is None else _object(item, "Order", Ref(order, order), ctx, path)
    sort = str(args.get("sortKey") or "ID")
    if sort not in ORDER_SORT_KEYS:
        raise QueryError(
            f"Argument 'sortKey' on Field 'orders' has an invalid value ({sort}). "
            "Expected type 'OrderSortKeys'.",
            "argumentLiteralsIncompatible",
            path,
        )
    chosen = search_orders(list(ctx.orders.values()), args.get("query"), ctx, path)
    keyed = sorted(
        ((_sort_value(order, ORDER_SORT_KEYS[sort]), order["id"]), Ref(order, order))
        for order in chosen
    )
    if args.get("reverse") is True:
        keyed.reverse()
    return connection(
        item, "Order", keyed, {**args, "_reversed": args.get("reverse") is True}, ctx, path
    )


def _sort_value(order: dict[str, Any], key: str) -> float:
    if key == "id":
        return float(order["id"])
    moment = parse_time(str(order.get(key) or ""))
    return moment.timestamp() if moment else 0.0


def _numeric_id(value: Any, kind: str, path: list[Any]) -> int:
    prefix = f"gid://shopify/{kind}/"
    if (
        not isinstance(value, str)
        or not value.startswith(prefix)
        or not value[len(prefix) :].isdigit()
    ):
        raise QueryError(f"Invalid global id '{value}'", "argumentLiteralsIncompatible", path)
    return int(value[len(prefix) :])


def connection(
    item: Field,
    node_type: str,
    keyed: list[tuple[tuple[Any, ...], Ref]],
    args: dict[str, Any],
    ctx: Context,
    path: list[Any],
) -> tuple[dict[str, Any], int]:
    """One page of `keyed` (in order), cut by cursors; a cursor is the position key, opaque."""
    backwards = bool(args.get("_reversed"))

    def beyond(key: tuple[Any, ...], cursor: tuple[Any, ...]) -> bool:
        return key < cursor if backwards else key > cursor

    window = keyed
    for name, keep_after in (("after", True), ("before", False)):
        if args.get(name) is not None:
            cursor = decode_cursor(args[name], path)
            window = [(k, r) for k, r in window if beyond(k, cursor) == keep_after and k != cursor]
    size: int = args["first"] if args.get("first") is not None else args["last"]
    page = window[:size] if args.get("first") is not None else window[max(0, len(window) - size) :]
    index_first = keyed.index(page[0]) if page else 0
    index_last = keyed.index(page[-1]) if page else len(keyed) - 1
    out: dict[str, Any] = {}
    spent = 2
    for part in fields_of(item.selections, f"{node_type}Connection", ctx):
        if part.name == "__typename":
            out[part.key] = f"{node_type}Connection"
        elif part.name == "pageInfo":
            info = {
                "hasNextPage": bool(page) and index_last < len(keyed) - 1,
                "hasPreviousPage": bool(page) and index_first > 0,
                "startCursor": encode_cursor(page[0][0]) if page else None,
                "endCursor": encode_cursor(page[-1][0]) if page else None,
            }
            out[part.key] = {
                f.key: (info[f.name] if f.name != "__typename" else "PageInfo")
                for f in fields_of(part.selections, "PageInfo", ctx)
            }
        elif part.name == "nodes":
            nodes = []
            for index, (_, ref) in enumerate(page):
                node, cost = select(
                    part.selections, TYPES[node_type], node_type, ref, ctx, [*path, part.key, index]
                )
                nodes.append(node)
                spent += 1 + cost
            out[part.key] = nodes
        else:
            edges = []
            for index, (key, ref) in enumerate(page):
                edge: dict[str, Any] = {}
                for bit in fields_of(part.selections, f"{node_type}Edge", ctx):
                    if bit.name == "cursor":
                        edge[bit.key] = encode_cursor(key)
                    elif bit.name == "__typename":
                        edge[bit.key] = f"{node_type}Edge"
                    else:
                        edge[bit.key], cost = select(
                            bit.selections,
                            TYPES[node_type],
                            node_type,
                            ref,
                            ctx,
                            [*path, part.key, index, "node"],
                        )
                        spent += 1 + cost
                edges.append(edge)
            out[part.key] = edges
    return out, spent


def encode_cursor(key: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"last": list(key)}).encode()).decode()


def decode_cursor(token: Any, path: list[Any]) -> tuple[Any, ...]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(str(token)))
        return tuple(decoded["last"])
    except (ValueError, KeyError, TypeError) as exc:
        raise QueryError(
            f"Invalid cursor for current pagination sort: {token}", None, path
        ) from exc


# --- Shopify's search syntax --------------------------------------------------------------------


def search_orders(
    orders: list[dict[str, Any]], query: Any, ctx: Context, path: list[Any]
) -> list[dict[str, Any]]:
    if not isinstance(query, str) or not query.strip():
        return orders
    tests, warnings = [], []
    rest = SEARCH_TERM.sub(" ", query)
    for found in SEARCH_TERM.finditer(query):
        name, op, value = found["field"], found["op"] or ":", found["value"].strip("'\"")
        test = _term(name, op, value, ctx.offset_minutes)
        if test is None:
            warnings.append({"field": name, "message": "Invalid search field for this query."})
        else:
            tests.append(test)
    leftover = [word for word in rest.split() if word.upper() != "AND"]
    if leftover:
        warnings.append(
            {
                "field": "default",
                "message": f"Unsupported search terms ignored by the simulator: {leftover}",
            }
        )
    if warnings:
        ctx.search.append({"path": [str(p) for p in path], "query": query, "warnings": warnings})
    return [order for order in orders if all(test(order) for test in tests)]


def _term(name: str, op: str, value: str, offset_minutes: int) -> Any:
    if name in TIME_FIELDS:
        limit = parse_time(value, offset_minutes)
        if limit is None:
            return None

        def by_time(order: dict[str, Any]) -> bool:
            moment = parse_time(str(order.get(name) or ""))
            return moment is not None and _compare(moment.timestamp(), op, limit.timestamp())

        return by_time
    if name == "id" and value.isdigit():
        return lambda order: _compare(float(order["id"]), op, float(value))
    if name == "status":
        wanted = value.lower()
        states = {
            "open": lambda o: not o.get("closed_at") and not o.get("cancelled_at"),
            "closed": lambda o: bool(o.get("closed_at")),
            "cancelled": lambda o: bool(o.get("cancelled_at")),
            "not_closed": lambda o: not o.get("closed_at"),
            "any": lambda o: True,
        }
        return states.get(wanted)
    if name in ("financial_status", "email", "name"):
        return lambda order: str(order.get(name) or "").lower() == value.lower()
    return None


def _compare(left: float, op: str, right: float) -> bool:
    return {
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
        ":": left == right,
    }[op]
