"""What the two shop simulators share: options, a clock, path templates and small JSON helpers.

Shops differ from the ERP simulators in one way: they *send*. Sending lives in `delivery.py`;
this module holds the plain pieces both shops need to answer their own API.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from simulators.admin import SimApp, SimulatedErp, admin_error

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
        moment = datetime.fromisoformat(re.sub(r"(T[\d:.]+) (\d\d:?\d\d)$", r"\1+\2",
                                                value.strip()))
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


def admin_handler(handler: TemplatedHandler) -> TemplatedHandler:
    """Turn a ValueError from a handler into the admin layer's 400 answer."""
    async def guarded(request: Request, params: dict[str, str]) -> Response:
        try:
            return await handler(request, params)
        except ValueError as exc:
            return admin_error(400, str(exc))

    return guarded


def deliver_flag(body: dict[str, Any]) -> bool:
    deliver = body.pop("deliver", True)
    if not isinstance(deliver, bool):
        raise ValueError("deliver must be true or false")
    return deliver
