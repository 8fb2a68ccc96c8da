"""Helpers for `Connector.unmapped`: report a canonical field as dropped only when the order
actually has it (a value, a non-empty address, a line of that kind), so a warning always
names data the shop sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from schemas.dropped import Dropped
from schemas.order import Address, Order, ProductLine, ShippingLine, TextLine

L = TypeVar("L", ProductLine, TextLine, ShippingLine)


def has(value: object) -> bool:
    """Whether a field carries data: not None, not blank, and an address with a field set."""
    if isinstance(value, Address):
        return any(has(v) for v in value.model_dump().values())
    if isinstance(value, str | list):
        return bool(value)
    return value is not None


def customer_fields(order: Order, reasons: dict[str, str]) -> list[Dropped]:
    """`customer.<name>` for each named customer field the order has, with its reason."""
    customer = order.customer
    return [
        Dropped(field=f"customer.{name}", reason=reason)
        for name, reason in reasons.items()
        if has(getattr(customer, name))
    ]


def lines_of(order: Order, kind: type[L]) -> Iterator[tuple[int, L]]:
    """(position in the order, line) of every line of one kind: positions are the field paths'."""
    for index, line in enumerate(order.lines):
        if isinstance(line, kind):
            yield index, line


def serial_numbers(order: Order, erp: str) -> list[Dropped]:
    """Serial numbers, for an ERP whose sales documents have no place for them."""
    return [
        Dropped(
            field=f"lines.{index}.serial_numbers",
            reason=f"{erp} has no place for serial numbers on a sales document: the "
            f"{len(line.serial_numbers or [])} serial numbers of {line.sku} are not sent",
        )
        for index, line in lines_of(order, ProductLine)
        if line.serial_numbers
    ]


def shipping_address(order: Order, erp: str) -> list[Dropped]:
    """The delivery address, for an ERP mapping that sends the billing address only."""
    return customer_fields(
        order,
        {
            "shipping_address": f"{erp} gets the billing address only: the delivery address "
            f"is not sent"
        },
    )
