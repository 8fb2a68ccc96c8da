"""Direct invoicing: `config.directInvoicing` on an order create invoices it at once.

The order moves past orderReadyToSend to invoiceSent, takes the next invoice number, and the
create answer carries the invoice as an `attachment` (a real PDF, base64) - the only time Duett
hands the invoice document back, so a connector that wants it must keep it then. A credit order
becomes a credit note the same way. The invoice is posted to the customer ledger (`ledger`).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from simulators.duett.ledger import post_invoice
from simulators.duett.options import DuettSimOptions
from simulators.duett.pdf import text_pdf
from simulators.duett.store import Store

INVOICED_STATUS = "invoiceSent"


def invoice(
    store: Store, order: dict[str, Any], customer: dict[str, Any], options: DuettSimOptions
) -> dict[str, Any]:
    """Invoice `order` in place and post it to the customer ledger; returns its attachment."""
    number = store.invoice_number()
    order["status"] = INVOICED_STATUS
    order["invoiceNumber"] = number
    order["invoiceDate"] = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00")
    post_invoice(store, order, customer, options)
    title = f"{'Kreditnota' if order['orderType'] == 'credit' else 'Faktura'} {number}"
    pdf = text_pdf(_invoice_text(order, customer, title), title)
    return {
        "filename": f"{title.replace(' ', '_')}.pdf",
        "description": title,
        "type": "PDF",
        "value": base64.b64encode(pdf).decode("ascii"),
    }


def _invoice_text(order: dict[str, Any], customer: dict[str, Any], title: str) -> list[str]:
    address = customer["address"] or {}
    place = " ".join(p for p in (address.get("zipCodeKey"), address.get("zipCodeName")) if p)
    head = [
        title,
        "",
        f"Fakturadato: {order['invoiceDate'][:10]}   Forfall: {(order['dueDate'] or '')[:10]}",
        f"Ordre {order['number']} / {order['invoiceYear']}   "
        f"Deres referanse: {order['orderReference'] or '-'}",
        "",
        f"Kunde {customer['customerNumber']}: {customer['contactInfo']['name']}",
        address.get("address1") or "",
        place or (address.get("country") or ""),
        "",
    ]
    body = [_line_text(line) for line in order["lines"]]
    foot = [
        "",
        f"Netto: {order['netAmount']:.2f}",
        f"MVA: {order['vatAmount']:.2f}",
        f"Å betale: {order['currencyCodeReference']} {order['grossAmount']:.2f}",
    ]
    return head + body + foot


def _line_text(line: dict[str, Any]) -> str:
    if line["lineType"] == "text":
        return f"    {line['name']}"
    if line["lineType"] == "sum":
        return f"    {line['name']}: {line['calcAmount']:.2f}"
    return (
        f"{line['key']}  {line['name']}  {line['countAgreed']} x {line['salesPrice']:.2f}"
        f"  = {line['grossAmount']:.2f}"
    )
