"""Credit orders (`orderType: credit`): the sign their lines must carry, and the link to the
invoice they credit.

Duett documents only that a credit note is an order of type credit. Whether its lines carry
positive counts (the type makes them a credit) or negative ones is unconfirmed, so it is the
`credit_line_sign` option; the wrong sign is refused rather than booked as a charge. Whether an
order field names the credited invoice is unconfirmed too: with `credit_link_field` set, that
field must name an invoice of the same customer; unset, it is ignored like any unknown property.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulators.duett.context import Ctx
from simulators.duett.problems import invalid

ARTICLE_LINE_TYPES = ("normal", "amount", "serial")


def check_credit_lines(lines: list[dict[str, Any]], sign: str) -> None:
    for index, line in enumerate(lines):
        if line["lineType"] not in ARTICLE_LINE_TYPES:
            continue
        count = Decimal(str(line["countAgreed"]))
        if (sign == "positive" and count < 0) or (sign == "negative" and count > 0):
            wanted = (
                "positive (the order type makes it a credit)" if sign == "positive" else "negative"
            )
            raise invalid(
                f"lines[{index}].countAgreed",
                f"countAgreed on a credit order must be {wanted}; got {count}.",
            )


def credit_link(ctx: Ctx, raw: dict[str, Any], customer_id: int) -> dict[str, Any]:
    """The link field as stored on the credit order (empty when there is no such field)."""
    name = ctx.options.credit_link_field
    if not name:
        return {}
    value = next((v for k, v in raw.items() if k.lower() == name.lower()), None)
    if value is None:
        return {name: None}
    number = str(value).strip()
    invoiced = next(
        (
            o
            for o in ctx.store.orders.values()
            if str(o["invoiceNumber"]) == number and o["orderType"] != "credit"
        ),
        None,
    )
    if invoiced is None or invoiced["customerId"] != customer_id:
        raise invalid(name, f"Invoice {number} does not exist for customer {customer_id}.")
    return {name: invoiced["invoiceNumber"]}
