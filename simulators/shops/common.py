"""What the two shop simulators share: options, a clock, path templates and small JSON helpers.

Shops differ from the ERP simulators in one way: they *send*. Sending lives in `delivery.py`;
this module holds the plain pieces both shops need to answer their own API.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from simulators.admin import SimApp, SimulatedErp, admin_error, json_object

TemplatedHandler = Callable[[Request, dict[str, str]], Awaitable[Response]]
TemplatedRoute = tuple[str, str, TemplatedHandler]  # (method, "/_sim/orders/{id}/pay", handler)


class Clock:
    """Shop time at whole seconds, as both shops stamp their objects."""

    def __init__(self, utc_offset_minutes: int = 0) -> None:
        self.zone = timezone(timedelta(minutes=utc_offset_minutes))

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)

    def stamp(self, moment: datetime | None = None) -> str:
        """ISO 8601 with the shop's offset, e.g. `2026-11-04T10:14:58+01:00` (Shopify)."""
        return (moment or self.now()).astimezone(self.zone).isoformat(timespec="seconds")


def gmt(moment: datetime) -> str:
    """WooCommerce's `*_gmt` style: UTC without offset."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def parse_time(value: str, naive_offset_minutes: int = 0) -> datetime | None:
    """An ISO 8601 time as aware UTC; one without offset is taken to be `naive_offset_minutes`
    ahead of UTC (0: UTC). None when unreadable."""
    try:
        # a "+01:00" offset sent unencoded in a query string arrives as " 01:00"
        moment = datetime.fromisoformat(
            re.sub(r"(T[\d:.]+) (\d\d:?\d\d)$", r"\1+\2", value.strip())
        )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone(timedelta(minutes=naive_offset_minutes)))
        return moment.astimezone(UTC)
    except (ValueError, AttributeError, OverflowError):
        return None


def template_match(template: str, path: str) -> dict[str, str] | None:
    """Path parameters when `path` fits `template` (`/orders/{id}.json`), else None."""
    pattern = re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
    pattern = re.sub(r"{(\w+)}", r"(?P<\1>[^/]+?)", pattern)
    found = re.fullmatch(pattern, path.rstrip("/") or "/")
    return found.groupdict() if found else None


def positive_int(value: Any) -> int | None:
    """An int > 0 from a query string or JSON value, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        number = int(value)
        return number if number > 0 else None
    return None


class ShopSimApp(SimApp):
    """`SimApp` plus admin routes with path parameters (`POST /_sim/orders/{id}/pay`), which the
    shared admin layer matches only literally. Like the other admin routes they are neither
    logged nor faulted."""

    def __init__(self, erp: SimulatedErp, templated: list[TemplatedRoute]) -> None:
        super().__init__(erp)
        self.templated = templated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/_sim/"):
            for method, template, handler in self.templated:
                params = template_match(template, scope["path"])
                if params is not None and scope["method"] == method:
                    response = await handler(Request(scope, receive), params)
                    await response(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


class UnknownOrder(Exception):
    """An admin route named an order the shop does not have; `admin_handler` answers 404."""


def admin_handler(handler: TemplatedHandler) -> TemplatedHandler:
    """Turn a ValueError from a handler into the admin layer's 400 answer, UnknownOrder into
    its 404 "unknown order"."""

    async def guarded(request: Request, params: dict[str, str]) -> Response:
        try:
            return await handler(request, params)
        except UnknownOrder:
            return admin_error(404, "unknown order")
        except ValueError as exc:
            return admin_error(400, str(exc))

    return guarded


def deliver_flag(body: dict[str, Any]) -> bool:
    deliver = body.pop("deliver", True)
    if not isinstance(deliver, bool):
        raise ValueError("deliver must be true or false")
    return deliver


async def order_change(
    request: Request,
    orders: Mapping[int, dict[str, Any]],
    raw_id: str,
    parse_id: Callable[[str], int | None],
) -> tuple[dict[str, Any], bool, dict[str, Any]]:
    """The opening of an admin route that changes one order (under `admin_handler`): the JSON
    body without its `deliver` flag, that flag, and the order. In this order: a bad body or
    flag is a ValueError (400), then `parse_id(raw_id)` may raise its own ValueError (400) or
    give None, and an id that names no order is UnknownOrder (404)."""
    body = await json_object(request)
    deliver = deliver_flag(body)
    order_id = parse_id(raw_id)
    order = None if order_id is None else orders.get(order_id)
    if order is None:
        raise UnknownOrder(raw_id)
    return body, deliver, order


def refund_quantity(
    where: str,
    request: dict[str, Any],
    earlier: list[Any],
    id_key: str,
    line_id: str,
    remaining: Callable[[], int | Decimal],
) -> int:
    """The units a refund line (`request`, at `where` in the body) asks for: a positive integer,
    at most the line's `remaining()` units less what the `earlier` lines of the same refund ask
    for the same line (matched on their `id_key`); ValueError otherwise."""
    quantity = positive_int(request.get("quantity"))
    if quantity is None:
        raise ValueError(f"{where}.quantity must be a positive integer")
    asked_before = sum(
        int(r.get("quantity") or 0)
        for r in earlier
        if isinstance(r, dict) and str(r.get(id_key)) == line_id
    )
    left = remaining() - asked_before
    if quantity > left:
        raise ValueError(
            f"{where}.quantity {quantity} is more than the {left} unit(s) of line "
            f"item {line_id} that can still be refunded"
        )
    return quantity
