"""A refund as a Duett credit note: an order of type credit, built by the order mapping.

Duett documents only that a credit note is an order with `orderType: credit`. Unconfirmed:
- the sign of its lines. We send `credit_line_sign` (default positive: the type makes it a
  credit, as in EHF credit notes). If Duett refuses that sign (a 400 naming a line's
  `countAgreed`), nothing was created, so we send the other sign once. A Duett that silently
  took the wrong sign would book a charge; the amount check after posting compares magnitudes
  only, so that case is not caught here - it is why the first sign is a setting.
- a field linking the credited invoice. None is documented; `credit_link_field` names one if
  the company's Duett has it. The credit note always says which invoice it credits in a text
  line (`credit_text`), which is also how `invoices` reads the link back.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import httpx

from connectors.base import CreditSource
from connectors.duett.mapping import OrderPayload, order_payload
from connectors.duett.settings import DuettSettings
from schemas.order import Order

Sign = Literal["positive", "negative"]
COUNT_FIELD = re.compile(r"countagreed", re.IGNORECASE)


def credit_text(original: CreditSource, settings: DuettSettings) -> str:
    """The line naming what is credited: the invoice number, else the order it came from."""
    named = original.invoice_number or (
        f"ordre {original.order_number}" if original.order_number else f"ordre {original.order_id}"
    )
    return settings.credit_text.format(invoice=named)


def credited_invoice(row: dict[str, Any], settings: DuettSettings) -> str | None:
    """The invoice a credit order credits: the link field if set, else our text line."""
    if settings.credit_link_field and row.get(settings.credit_link_field) is not None:
        return str(row[settings.credit_link_field])
    before, after = settings.credit_text.format(invoice="\x00").split("\x00")
    pattern = re.compile(re.escape(before) + r"(\d+)" + re.escape(after))
    for line in row.get("lines") or []:
        found = (
            pattern.fullmatch(str(line.get("name") or ""))
            if line.get("lineType") == "text"
            else None
        )
        if found:
            return found[1]
    return None


def credit_payload(
    order: Order,
    reference: str,
    customer_id: str,
    article_ids: dict[str, str],
    original: CreditSource,
    settings: DuettSettings,
    sign: Sign,
) -> OrderPayload:
    """The order body of the credit note (direct invoicing when the order asks for it, like any
    order) with the lines signed as `sign`; `planned` holds the positive amounts."""
    payload = order_payload(order, reference, customer_id, article_ids, settings)
    lines = [
        {"lineType": "text", "name": credit_text(original, settings)},
        *(_signed(line, sign) for line in payload.body["lines"]),
    ]
    body = {**payload.body, "orderType": "credit", "lines": lines}
    if settings.credit_link_field and original.invoice_number:
        body[settings.credit_link_field] = original.invoice_number
    return OrderPayload(body, payload.planned)


def _signed(line: dict[str, Any], sign: Sign) -> dict[str, Any]:
    if sign == "positive" or "countAgreed" not in line:
        return line
    return {**line, "countAgreed": f"-{line['countAgreed']}"}


def other(sign: Sign) -> Sign:
    return "negative" if sign == "positive" else "positive"


def sign_refused(response: httpx.Response) -> bool:
    """Whether Duett refused the credit note for its lines' counts (a 400 whose ProblemDetails
    names a `countAgreed` field): a refusal created nothing, so the other sign may be sent."""
    if response.status_code != 400:
        return False
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return False
    return isinstance(errors, dict) and any(COUNT_FIELD.search(str(k)) for k in errors)
