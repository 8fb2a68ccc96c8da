"""PowerOffice Go's refusals of a write, as a dry run gives them: status, ProblemDetails title
and detail as Go words them (erp/poweroffice-go.md §2, §4-§6), so that the connector raises the
error, and a dead letter would carry the message, of a real run.

The checks here need nothing but the request body; those that depend on Go's data (accounts,
articles, customers, references in use) are made by `rehearsal` with `lookups`. Bodies are read
by Go's field names as the connector writes them (Go's binder also takes other cases).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

NOT_FOUND = "Object(s) not found"
PRODUCT_TYPES = ("Product", "Service")
LINE_TYPES = ("Normal", "Text", "Summary", "InvoiceFee", "TotalHours")
ORDER_STATUSES = ("Draft", "Confirmed")
SEND_DELIVERY_TYPES = ("Auto", "PdfByEmail", "PdfPrintForDownload")
CUSTOMER_DELIVERY_TYPES = (
    "PdfByEmail",
    "Print",
    "EHF",
    "AvtaleGiro",
    "External",
    "Efaktura",
    "Factoring",
)


class Refused(Exception):
    """Go's refusal: answered as ProblemDetails by `problem`."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status, self.title, self.detail = status, title, detail


def invalid(entity: str, detail: str) -> Refused:
    return Refused(400, f"{entity} validation error(s)", detail)


def not_found(detail: str) -> Refused:
    return Refused(404, NOT_FOUND, detail)


def problem(request: httpx.Request, refused: Refused) -> httpx.Response:
    body = {
        "type": f"https://httpstatuses.io/{refused.status}",
        "title": refused.title,
        "status": refused.status,
        "detail": refused.detail,
        "instance": request.url.path,
    }
    return httpx.Response(
        refused.status,
        json=body,
        headers={"Content-Type": "application/problem+json; charset=utf-8"},
        request=request,
    )


def check_customer(customer: dict[str, Any]) -> None:
    """A person needs a first or last name, a company a name (uniqueness is read from Go)."""
    if customer.get("IsPerson"):
        if not (customer.get("FirstName") or customer.get("LastName")):
            raise invalid("Customer", "FirstName or LastName is required when IsPerson is true.")
    elif not (customer.get("Name") or "").strip():
        raise invalid("Customer", "Name is required.")
    delivery = customer.get("InvoiceDeliveryType")
    if delivery not in (None, *CUSTOMER_DELIVERY_TYPES):
        raise invalid("Customer", f"InvoiceDeliveryType '{delivery}' is not valid.")
    reference = customer.get("ExternalImportReference")
    if reference is not None and len(reference) > 50:
        raise invalid("Customer", "ExternalImportReference can not be longer than 50 characters.")


def check_address(address: dict[str, Any] | None) -> None:
    """Go checks the address last: it needs a city and a zip code."""
    if address is not None:
        for key in ("City", "ZipCode"):
            if not (address.get(key) or "").strip():
                raise invalid("Customer", f"MailAddress.{key} is required.")


def person_name(customer: dict[str, Any]) -> str | None:
    """The Name Go gives a person: first and last name."""
    parts = (customer.get("FirstName"), customer.get("LastName"))
    return " ".join(p for p in parts if p) or None


def check_product(product: dict[str, Any]) -> None:
    name, code = product.get("Name") or "", product.get("Code")
    if not name.strip():
        raise invalid("Product", "Name is required.")
    if len(name) > 400:
        raise invalid("Product", "Name can not be longer than 400 characters.")
    if code is not None and len(code) > 100:
        raise invalid("Product", "Code can not be longer than 100 characters.")
    kind = product.get("ProductType") or "Product"
    if kind not in PRODUCT_TYPES:
        raise invalid("Product", f"ProductType '{kind}' is not valid.")


def not_a_sales_account(account_no: object) -> Refused:
    return invalid("Product", f"General ledger account {account_no} is not a sales account.")


def check_order_status(status: object) -> None:
    if status not in ORDER_STATUSES:
        raise invalid(
            "SalesOrder",
            f"SalesOrderStatus '{status}' is not valid; use {' or '.join(ORDER_STATUSES)}.",
        )


def reference_in_use(reference: str, owner: str) -> Refused:
    return invalid(
        "SalesOrder",
        f"ExternalImportReference is already in use. '{reference}' is used "
        f"on (sales order) Id = {owner}.",
    )


def check_line(line: Any, index: int) -> str:
    """A line's own rules (its product's are the caller's); returns its LineType."""
    if not isinstance(line, dict):
        raise invalid("SalesOrder", f"SalesOrderLines[{index}] must be a JSON object.")
    line_type = line.get("LineType") or "Normal"
    if line_type not in LINE_TYPES:
        raise invalid("SalesOrder", f"LineType '{line_type}' is not valid (line {index}).")
    allowance = Decimal(str(line.get("Allowance") or 0))
    if not Decimal(-1000) <= allowance <= Decimal(100):
        raise invalid("SalesOrder", f"Allowance must be between -1000 and 100 (line {index}).")
    return str(line_type)


def check_line_product(line: dict[str, Any], line_type: str, has_product: bool, index: int) -> None:
    if line_type == "Normal" and not has_product:
        raise invalid(
            "SalesOrder", f"ProductId or ProductCode is required on Normal lines (line {index})."
        )
    if has_product and line.get("Quantity") is None:
        raise invalid("SalesOrder", f"Quantity is required on lines with a product (line {index}).")


def check_line_references(lines: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for line in lines:
        ref = line.get("ExternalImportReference")
        if ref is not None and ref in seen:
            raise invalid(
                "SalesOrder",
                f"ExternalImportReference '{ref}' is used on more than one "
                "line of the sales order.",
            )
        if ref is not None:
            seen.add(ref)


def check_related_invoice(total: Decimal) -> None:
    """RelatedInvoiceNo belongs on credit-note drafts only (a negative total)."""
    if total >= 0:
        raise invalid(
            "SalesOrder",
            "RelatedInvoiceNo can only be set on credit note drafts (a "
            "sales order with a negative total).",
        )


def no_such_invoice(number: object) -> Refused:
    return invalid(
        "SalesOrder", f"RelatedInvoiceNo {number}: no outgoing invoice with that number."
    )


def check_send(body: Any) -> dict[str, Any]:
    """The send request with Go's defaults filled in."""
    if body is not None and not isinstance(body, dict):
        raise invalid("SalesOrder", "The request body must be a JSON object.")
    request = {
        "DeliveryType": None,
        "EmailAddress": None,
        "VoucherDate": None,
        "OverrideDueDate": None,
        **(body or {}),
    }
    request["DeliveryType"] = request["DeliveryType"] or "Auto"
    if request["DeliveryType"] not in SEND_DELIVERY_TYPES:
        raise invalid("SalesOrder", f"DeliveryType '{request['DeliveryType']}' is not valid.")
    return request


def no_send_privilege() -> Refused:
    return Refused(
        403, "Forbidden", "The integration does not have the privilege to send invoices."
    )
