"""The reads a dry run makes in PowerOffice Go to answer a write as Go would: where Go's answer
depends on its data (a sales account, an article's account, a customer, a reference in use).

Each read goes to Go for real, with the bearer token and subscription key of the write being
answered (the connector's own, so no extra token call). A read Go refuses ends the answer:
`ReadFailed` carries Go's response, which becomes the write's answer (a 401 makes the
connector renew its token and ask again; a 429 makes it wait), because a real run would have
met the same trouble. Answers are remembered for the run: accounts and VAT codes do not change
while one order is previewed.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx

from connectors.http import segment
from connectors.rehearsal import Read

PAGE_SIZE = 5000  # Go's default page size
PASSED_HEADERS = ("Authorization", "Ocp-Apim-Subscription-Key")


class ReadFailed(Exception):
    """Go refused a read the answer depends on; `response` is its answer."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"GET {response.request.url.path} answered {response.status_code}")
        self.response = response


class Memo:
    """What the lookups of one run remember between writes."""

    def __init__(self) -> None:
        self.accounts: dict[int, dict[str, Any] | None] = {}
        self.vat_rates: dict[str, Decimal] | None = None


class Lookups:
    """Read-only questions to Go, asked with the credentials of `request` (a write)."""

    def __init__(self, read: Read, request: httpx.Request, base_url: str, memo: Memo) -> None:
        self._read, self._base, self._memo = read, base_url.rstrip("/"), memo
        self._headers = {k: request.headers[k] for k in PASSED_HEADERS if k in request.headers}

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        request = httpx.Request(
            "GET", f"{self._base}{path}", params=params or {}, headers=self._headers
        )
        response = self._read(request)
        if response.status_code != 404 and not response.is_success:
            raise ReadFailed(response)
        return response

    def _list(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        response = self._get(path, params)
        if response.status_code in (204, 404) or not response.content:
            return []
        return list(response.json())

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        number = 1
        while True:
            page = self._list(path, {**params, "PageSize": PAGE_SIZE, "PageNumber": number})
            yield from page
            if len(page) < PAGE_SIZE:
                return
            number += 1

    def _one(self, path: str) -> dict[str, Any] | None:
        response = self._get(path)
        return None if response.status_code == 404 else dict(response.json())

    # --- reference data -----------------------------------------------------------------------
    def sales_account(self, account_no: int) -> dict[str, Any] | None:
        """The ledger account with this number (`GeneralLedgerAccountDto`), or None."""
        if account_no not in self._memo.accounts:
            found = self._list("/GeneralLedgerAccounts", {"accountNos": str(account_no)})
            self._memo.accounts[account_no] = next(
                (a for a in found if a.get("AccountNo") == account_no), None
            )
        return self._memo.accounts[account_no]

    def account_by_id(self, account_id: int) -> dict[str, Any] | None:
        found = self._list("/GeneralLedgerAccounts", {})
        return next((a for a in found if a.get("Id") == account_id), None)

    def vat_rate(self, vat_code: str) -> Decimal | None:
        """The rate of a VAT code (`GET /VatCodes`, read once per run)."""
        if self._memo.vat_rates is None:
            self._memo.vat_rates = {
                str(code["Code"]): Decimal(str(code["Rate"]))
                for code in self._list("/VatCodes", {})
                if code.get("Code") is not None and code.get("Rate") is not None
            }
        return self._memo.vat_rates.get(vat_code)

    def send_privilege_missing(self) -> bool:
        """Does Go list an invoice-sending privilege among the integration's invalid ones? (The
        privilege's real name is unconfirmed: any name containing "SendInvoice" counts.)"""
        info = self._one("/ClientIntegrationInformation") or {}
        return any("sendinvoice" in str(p).lower() for p in info.get("InvalidPrivileges") or [])

    # --- the client's objects -----------------------------------------------------------------
    def customer(self, customer_id: object) -> dict[str, Any] | None:
        return self._one(f"/Customers/{segment(customer_id)}")

    def customer_by_number(self, number: int) -> dict[str, Any] | None:
        found = self._list("/Customers", {"customerNos": str(number)})
        return next((c for c in found if c.get("Number") == number), None)

    def customer_by_reference(self, reference: str) -> dict[str, Any] | None:
        found = self._list("/Customers", {"externalImportReference": reference})
        return next((c for c in found if c.get("ExternalImportReference") == reference), None)

    def customer_by_external_number(self, number: object) -> dict[str, Any] | None:
        found = self._list("/Customers", {"externalNos": str(number)})
        return next((c for c in found if c.get("ExternalNumber") == number), None)

    def product(self, product_id: object) -> dict[str, Any] | None:
        return self._one(f"/Products/{segment(product_id)}")

    def product_by_code(self, code: str) -> dict[str, Any] | None:
        found = self._list("/Products", {"codes": code})
        return next((p for p in found if p.get("Code") == code), None)

    def reference_owner(self, reference: str) -> str | None:
        """The Id of the sales order or invoice that carries this ExternalImportReference.

        Go cannot filter sales orders by reference, so the orders this integration created are
        read (Id and reference only); invoices can be filtered (`externalImportReferences`, a
        filter seen in one public client, unconfirmed). An order with our reference that another
        integration created is not found this way."""
        orders = self._pages(
            "/SalesOrders",
            {"onlyCreatedByCurrentIntegration": "true", "Fields": "Id,ExternalImportReference"},
        )
        for order in orders:
            if order.get("ExternalImportReference") == reference:
                return str(order["Id"])
        invoices = self._list("/OutgoingInvoices", {"externalImportReferences": reference})
        for invoice in invoices:
            if invoice.get("ExternalImportReference") == reference:
                return str(invoice["Id"])
        return None

    def outgoing_invoice(self, invoice_id: str) -> dict[str, Any] | None:
        return self._one(f"/OutgoingInvoices/{segment(invoice_id)}")

    def sales_order(self, order_id: str) -> dict[str, Any] | None:
        return self._one(f"/SalesOrders/{segment(order_id)}")

    def being_sent(self, order_id: str) -> bool:
        states = self._list("/SalesOrders/sentState", {"id": order_id})
        return any(state.get("IsInvoiceBeingProcessed") for state in states)

    def outgoing_invoice_numbered(self, number: int) -> bool:
        found = self._list("/OutgoingInvoices", {"invoiceNos": str(number)})
        return any(
            i.get("InvoiceNo") == number and i.get("VoucherType") == "OutgoingInvoice"
            for i in found
        )
