"""What every Exact handler receives, and the checks all writers share: mandatory fields
(reported together, in the user's language), references that must exist, and server stamps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from simulators.exact.errors import ApiError, Message
from simulators.exact.options import ExactSimOptions
from simulators.exact.schema import EntitySet
from simulators.exact.store import Store
from simulators.exact.values import now_date

Row = dict[str, Any]


@dataclass
class Ctx:
    request: Request
    store: Store
    options: ExactSimOptions
    entity_set: EntitySet
    api_root: str  # e.g. "http://127.0.0.1:18082/api/v1/1"


@dataclass(frozen=True)
class Writer:
    """How one entity set is written; `update` and `delete` None means the method is refused."""

    create: Callable[[Ctx, Row], Row]
    update: Callable[[Ctx, Row, Row], Row] | None = None
    delete: Callable[[Ctx, Row], None] | None = None


class Problems:
    """Collects validation messages so one answer names every missing field, like Exact."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def need(self, values: Row, *names: str) -> None:
        for name in names:
            if _blank(values.get(name)):
                self.add("mandatory", name)

    def add(self, *message: str) -> None:
        if message not in self.messages:
            self.messages.append(message)

    def raise_any(self, status: int = 400) -> None:
        if self.messages:
            raise ApiError(status, *self.messages)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def reference(ctx: Ctx, entity_set: EntitySet, key: Any) -> Row:
    """The referenced row, or Exact's "Invalid reference: <set>" answer."""
    row = ctx.store.get(entity_set, key)
    if row is None:
        raise ApiError(ctx.options.bad_reference_status, ("reference", entity_set.name))
    return row


def blank_row(entity_set: EntitySet) -> Row:
    return dict.fromkeys(entity_set.props)


def stamp(ctx: Ctx, row: Row, created: bool) -> Row:
    now = now_date()
    if created:
        row["Created"] = now
        row["Creator"] = row["Modifier"] = ctx.store.me()["UserID"]
    row["Modified"] = now
    row["Division"] = ctx.store.division
    return row
