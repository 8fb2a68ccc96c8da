"""The PowerOffice Go v2 connector: customers, products, sales orders and sending invoices.

Go has no filter on a sales order's ExternalImportReference, so there is no cheap "does this
order exist" call: we send our reference on every order, treat Go's "ExternalImportReference is
already in use" answer as the existing order, and, because that uniqueness rule is not confirmed
for sales orders, after an ambiguous failure we also search the orders this integration changed
since the attempt began before posting again.

A credit note is a sales order like any other, only with negative quantities, so it goes the
same way (created under our reference, then sent); the invoice watch is in `invoices.py`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.base import (
    Consent,
    CreditSource,
    InvoicePage,
    InvoiceState,
    OrderRef,
    ProductSpec,
    TokenStore,
)
from connectors.errors import ErpHttpError, StaleReference, check, classify
from connectors.http import BearerAuth, segment
from connectors.poweroffice import mapping
from connectors.poweroffice.auth import poweroffice_tokens
from connectors.poweroffice.invoices import InvoiceCursor, snapshot
from connectors.poweroffice.settings import PowerOfficeSettings
from connectors.poweroffice.unmapped import dropped
from connectors.values import text_or_none
from schemas.dropped import Dropped
from schemas.order import Customer, Order

NOT_FOUND = re.compile(r"\b(customer|product)\b.*\bnot found\b", re.IGNORECASE | re.DOTALL)
ALREADY_IN_USE = re.compile(r"already in use.*?Id\s*=\s*([0-9A-Za-z-]+)", re.IGNORECASE | re.DOTALL)
LOOKBACK = timedelta(minutes=10)


class PowerOfficeConnector:
    def __init__(
        self, settings: PowerOfficeSettings, client: httpx.Client, tokens: TokenStore
    ) -> None:
        self.settings = settings
        self.client = client
        self.base = settings.base_url.rstrip("/")
        self.auth = BearerAuth(poweroffice_tokens(settings, client, tokens))
        self.headers = {"Ocp-Apim-Subscription-Key": settings.subscription_key.get_secret_value()}

    def consent(self) -> Consent | None:
        return None  # client credentials: no user grant needed

    def unmapped(self, order: Order, reference: str) -> list[Dropped]:
        return dropped(order)

    def check_order(self, order: Order) -> list[tuple[str, str]]:
        return []  # what has no place here (serial numbers, ...) is reported by `unmapped`

    # --- plumbing -----------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.request(
            method, f"{self.base}{path}", auth=self.auth, headers=headers, **kwargs
        )

    def _list(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        response = check(self._request("GET", path, params=params))
        if response.status_code == 204 or not response.content:
            return []
        return list(response.json())

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a list, page by page, until a short page or 204 (§2)."""
        size = self.settings.invoice_page_size
        number = 1
        while True:
            page = self._list(path, {**params, "PageSize": size, "PageNumber": number})
            yield from page
            if len(page) < size:
                return
            number += 1

    # --- customers ----------------------------------------------------------------------------
    def upsert_customer(self, customer: Customer, key: str) -> str:
        desired = mapping.customer_payload(customer, key)
        found = self._list("/Customers", {"externalImportReference": key})
        existing = next((c for c in found if c.get("ExternalImportReference") == key), None)
        if existing is None:
            response = self._request("POST", "/Customers", json=desired)
            existing_id = _already_in_use(response)
            if existing_id:
                return existing_id  # created by someone else between our find and create
            return str(check(response).json()["Id"])
        ops = mapping.customer_patch(existing, desired)
        if ops:
            check(
                self._request(
                    "PATCH",
                    f"/Customers/{segment(existing['Id'])}",
                    content=_json(ops),
                    headers={"Content-Type": "application/json-patch+json"},
                )
            )
        return str(existing["Id"])

    # --- products -----------------------------------------------------------------------------
    def products_for(self, order: Order) -> list[ProductSpec]:
        return mapping.product_specs(order, self.settings)

    def upsert_products(self, specs: list[ProductSpec]) -> dict[str, str]:
        found: dict[str, dict[str, Any]] = {}
        size = self.settings.product_batch_size
        for start in range(0, len(specs), size):
            codes = ",".join(spec.sku for spec in specs[start : start + size])
            for product in self._list("/Products", {"codes": codes}):
                found.setdefault(str(product.get("Code")), product)  # Go may match loosely
        ids = {sku: str(product["Id"]) for sku, product in found.items()}
        for spec in specs:
            if spec.sku in found:
                mapping.check_vat_account(found[spec.sku], spec, self.settings)
            if spec.sku not in ids:
                body = mapping.product_payload(spec, self.settings)
                created = check(self._request("POST", "/Products", json=body))
                ids[spec.sku] = str(created.json()["Id"])
        return {spec.sku: ids[spec.sku] for spec in specs}

    # --- sales orders -------------------------------------------------------------------------
    def find_order(self, reference: str, since: datetime | None) -> OrderRef | None:
        """Our order by reference, among what this integration changed since `since`.

        Without `since` there is nothing cheap to search (Go cannot filter orders by reference);
        the uniqueness of ExternalImportReference at creation guards that case."""
        if since is None:
            return None
        after = (since - LOOKBACK).isoformat()
        # every page: on a busy day more orders than one page holds change in the look-back
        # Only the fields the match needs (`Fields`): a busy look-back holds thousands of
        # orders, and their lines would make each look-up megabytes for the ERP and for us.
        orders = self._pages(
            "/SalesOrders",
            {
                "onlyCreatedByCurrentIntegration": "true",
                "lastChangedDateTimeOffsetGreaterThan": after,
                "Fields": "Id,ExternalImportReference,SalesOrderNo",
            },
        )
        for order in orders:
            if order.get("ExternalImportReference") == reference:
                return OrderRef(
                    str(order["Id"]), text_or_none(order.get("SalesOrderNo")), existed=True
                )
        from_date = (since - LOOKBACK).date().isoformat()
        invoices = self._pages(
            "/OutgoingInvoices",
            {
                "externalImportReferences": reference,
                "fromDate": from_date,
                "Fields": "Id,ExternalImportReference,OrderNo",
            },
        )
        for invoice in invoices:
            if invoice.get("ExternalImportReference") == reference:
                return OrderRef(
                    str(invoice["Id"]), text_or_none(invoice.get("OrderNo")), existed=True
                )
        return None

    def create_order(
        self,
        order: Order,
        reference: str,
        customer_id: str,
        product_ids: dict[str, str] | None = None,
    ) -> OrderRef:
        """Lines name articles by code (Go resolves them), so `product_ids` is not needed."""
        return self._create_sales_order(
            mapping.sales_order_payload(order, reference, customer_id, self.settings)
        )

    def create_credit_note(
        self,
        order: Order,
        reference: str,
        customer_id: str,
        product_ids: dict[str, str] | None,
        original: CreditSource,
    ) -> OrderRef:
        """A credit-note draft: a sales order with negative quantities (see
        `mapping.credit_note_payload`). `send_invoice` turns it into an OutgoingCreditNote."""
        return self._create_sales_order(
            mapping.credit_note_payload(order, reference, customer_id, self.settings, original)
        )

    def _create_sales_order(self, payload: dict[str, Any]) -> OrderRef:
        response = self._request("POST", "/SalesOrders/Complete", json=payload)
        existing_id = _already_in_use(response)
        if existing_id:
            return OrderRef(existing_id, existed=True)
        _raise_if_stale(response)
        body = check(response).json()
        return OrderRef(str(body["Id"]), text_or_none(body.get("SalesOrderNo")))

    def cancel_order(self, order_id: str) -> str:
        """Remove a draft; an order already invoiced stays (it needs a credit note)."""
        response = self._request("DELETE", f"/SalesOrders/{segment(order_id)}")
        if response.is_success:
            return "draft removed from PowerOffice Go"
        if response.status_code == 404:
            invoice = self._request("GET", f"/OutgoingInvoices/{segment(order_id)}")
            if invoice.is_success:
                return "already invoiced in PowerOffice Go: not removed (a credit note is needed)"
            return "not in PowerOffice Go any more (removed there already)"
        check(response)
        return "removed"

    # --- invoicing ----------------------------------------------------------------------------
    def send_invoice(self, order_id: str, email: str | None) -> None:
        body: dict[str, Any] = {"DeliveryType": self.settings.delivery_type}
        if email:
            body["EmailAddress"] = email
        check(
            self._request(
                "POST", f"/SalesOrders/{segment(order_id)}/createAndSendInvoice", json=body
            )
        )

    def invoice_state(self, order_id: str) -> InvoiceState:
        response = self._request("GET", "/SalesOrders/sentState", params={"id": order_id})
        if response.status_code == 404:
            return InvoiceState("not_requested")
        states = [
            s
            for s in (check(response).json() if response.content else [])
            if str(s.get("Id")) == order_id
        ]
        if not states:
            return InvoiceState("not_requested")
        state = states[0]
        if state.get("LastErrorMessage"):
            return InvoiceState("failed", message=state["LastErrorMessage"])
        if state.get("SentDateTimeOffset"):
            return InvoiceState("sent", invoice_number=text_or_none(state.get("InvoiceNo")))
        if state.get("IsInvoiceBeingProcessed"):
            return InvoiceState("processing")
        return InvoiceState("not_requested")

    # --- invoice watch ------------------------------------------------------------------------
    def invoices_since(self, cursor: Mapping[str, str]) -> InvoicePage:
        """New invoices and credit notes (by voucher number) and changed balances (by stamp);
        see `invoices.py` for why both and how the cursor stays behind. The balance bound also
        steps back by however long the reads took: a payment on an invoice already read while
        later pages were fetched is then seen next time."""
        start = InvoiceCursor.parse(
            cursor, datetime.now(UTC).date(), self.settings.invoice_lookback_days
        )
        began = time.monotonic()
        order = {"OrderBy": "VoucherNo"}  # new invoices come last: pages stay put while we read
        new = list(self._pages("/OutgoingInvoices", {**start.new_invoices_query(), **order}))
        changed = list(self._pages("/OutgoingInvoices", {**start.balance_query(), **order}))
        overlap = timedelta(
            seconds=self.settings.invoice_overlap_seconds + time.monotonic() - began
        )
        latest = {str(i["Id"]): i for i in [*new, *changed]}  # the later read is the fresher
        invoices = sorted(latest.values(), key=lambda i: int(i.get("VoucherNo") or 0))
        return InvoicePage(
            [snapshot(i) for i in invoices], start.advanced(new, changed, overlap).as_dict()
        )

    def invoice_lines(self, invoice_id: str) -> list[dict[str, Any]]:
        """The lines of one invoice or credit note as Go shows them (`OutgoingInvoiceLineDto`),
        for an operator who asks; never read while polling."""
        return list(self._pages(f"/OutgoingInvoices/{segment(invoice_id)}/Lines", {}))


def _already_in_use(response: httpx.Response) -> str | None:
    """The Id Go names when our ExternalImportReference is taken, else None."""
    if response.status_code != 400:
        return None
    match = ALREADY_IN_USE.search(response.text)
    return match.group(1) if match else None


def _raise_if_stale(response: httpx.Response) -> None:
    """Go's "Customer with id = 5 not found" / "Product with code 'X' not found" on an order."""
    if response.status_code not in (400, 404):
        return
    match = NOT_FOUND.search(response.text)
    if match:
        error = classify(ErpHttpError(response))
        raise StaleReference(
            match.group(1).lower(),
            error.message,
            erp_status=error.erp_status,
            erp_response=error.erp_response,
        )


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()
