"""The Exact Online connector: accounts, items, and the four kinds of sales document.

Exact has no unique external reference, so duplicates are ours to prevent: before creating, the
document's endpoint is searched for our reference in `YourRef` (quoted, so a reference with quotes
or OData keywords matches only itself). Items are looked up 25 per call with an `or` chain and
never created: a missing SKU is a permanent error naming it. Calls are counted against the
division's 60/min and 5,000/day budget by the HTTP client the pipeline hands us.

Refunds become credit notes in the connection's own kind of document (a credit invoice in
sales-order mode, where Exact has no credit order); a credit invoice is processed through the
same `send_invoice` path as an invoice. Invoice and payment state is polled (watch.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
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
from connectors.errors import PermanentError, check, erp_message, response_body
from connectors.exact import mapping, odata
from connectors.exact.auth import ExactTokens
from connectors.exact.settings import ExactSettings
from connectors.exact.unmapped import dropped
from connectors.exact.watch import InvoiceWatch
from connectors.http import BearerAuth, guid
from connectors.values import text_or_none
from schemas.dropped import Dropped
from schemas.order import Customer, Order

# send_as → (endpoint, id field, number field)
DOCUMENTS = {
    "order": ("salesorder/SalesOrders", "OrderID", "OrderNumber"),
    "invoice": ("salesinvoice/SalesInvoices", "InvoiceID", "InvoiceNumber"),
    "direct_invoice": ("salesinvoice/SalesInvoices", "InvoiceID", "InvoiceNumber"),
    "sales_entry": ("salesentry/SalesEntries", "EntryID", "EntryNumber"),
}
PROCESSED = 50
INVOICE_MODES = ("invoice", "direct_invoice")
INVOICE_STATE_FIELDS = "InvoiceID,Status,InvoiceNumber"


class ExactConnector:
    def __init__(self, settings: ExactSettings, client: httpx.Client, tokens: TokenStore) -> None:
        self.settings = settings
        self.client = client
        self.tokens = ExactTokens(settings, client, tokens)
        self.auth = BearerAuth(self.tokens)
        self._gl_account: str | None = None

    def consent(self) -> Consent:
        return self.tokens

    def unmapped(self, order: Order, reference: str) -> list[Dropped]:
        return dropped(order, self.settings)

    def check_order(self, order: Order) -> list[tuple[str, str]]:
        return []  # what has no place here (serial numbers, ...) is reported by `unmapped`

    # --- plumbing -----------------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        return check(
            self.client.get(
                f"{self.settings.api}/{path}",
                params=params,
                auth=self.auth,
                headers={"Accept": "application/json"},
            )
        )

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return check(
            self.client.post(
                f"{self.settings.api}/{path}",
                json=body,
                auth=self.auth,
                headers={"Accept": "application/json", "Prefer": "return=representation"},
            )
        )

    def _rows(
        self, path: str, params: dict[str, str], max_pages: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to `max_pages` pages of a list, following Exact's absolute `__next` links; and
        whether more pages were left."""
        rows, link = odata.page(self._get(path, params))
        for _ in range(max_pages - 1):
            if not link:
                return rows, False
            more, link = odata.page(
                check(self.client.get(link, auth=self.auth, headers={"Accept": "application/json"}))
            )
            rows.extend(more)
        return rows, link is not None

    def _first(self, path: str, filter_: str, select: str) -> dict[str, Any] | None:
        rows = odata.results(self._get(path, {"$filter": filter_, "$select": select, "$top": "1"}))
        return rows[0] if rows else None

    # --- customers ----------------------------------------------------------------------------
    def upsert_customer(self, customer: Customer, key: str) -> str:
        found = self._first("crm/Accounts", self._account_filter(customer), "ID,Code,Name,Email")
        if found:
            return str(found["ID"])
        account = odata.entity(
            self._post("crm/Accounts", mapping.account_payload(customer, self.settings))
        )
        contact = mapping.contact_payload(customer, str(account["ID"]))
        if contact:
            self._post("crm/Contacts", contact)
        return str(account["ID"])

    def _account_filter(self, customer: Customer) -> str:
        if self.settings.match_customers_by == "code" and customer.external_id:
            return odata.eq("Code", mapping.padded_code(customer.external_id))
        if customer.email:
            return odata.eq("Email", customer.email)
        return odata.eq("Name", customer.display_name)

    # --- items --------------------------------------------------------------------------------
    def products_for(self, order: Order) -> list[ProductSpec]:
        return mapping.item_specs(order, self.settings)

    def upsert_products(self, specs: list[ProductSpec]) -> dict[str, str]:
        """Look the SKUs up, 25 per call; Exact items are master data we do not create."""
        skus = list(dict.fromkeys(spec.sku for spec in specs))
        found: dict[str, str] = {}
        size = self.settings.items_per_lookup
        for start in range(0, len(skus), size):
            batch = skus[start : start + size]
            rows = odata.results(
                self._get(
                    "logistics/Items",
                    {"$filter": odata.any_of("Code", batch), "$select": "ID,Code,Description"},
                )
            )
            found.update({str(r["Code"]): str(r["ID"]) for r in rows if r.get("Code") in batch})
        missing = [sku for sku in skus if sku not in found]
        if missing:
            raise PermanentError(
                f"unknown item(s) in Exact Online: {', '.join(missing)} "
                f"(create the item, then replay)"
            )
        return found

    # --- documents ----------------------------------------------------------------------------
    def find_order(self, reference: str, since: datetime | None) -> OrderRef | None:
        return self._find(self.settings.send_as, reference)

    def _find(self, mode: str, reference: str) -> OrderRef | None:
        """The document of kind `mode` (a DOCUMENTS key) carrying `reference` in YourRef."""
        path, id_field, number_field = DOCUMENTS[mode]
        row = self._first(path, odata.eq("YourRef", reference), f"{id_field},{number_field}")
        if row is None:
            return None
        return OrderRef(str(row[id_field]), text_or_none(row.get(number_field)), existed=True)

    def create_order(
        self,
        order: Order,
        reference: str,
        customer_id: str,
        product_ids: dict[str, str] | None = None,
    ) -> OrderRef:
        path, id_field, number_field = DOCUMENTS[self.settings.send_as]
        gl = self._revenue_account() if self.settings.send_as == "sales_entry" else None
        payload = mapping.document_payload(
            order, reference, customer_id, product_ids or {}, gl, self.settings
        )
        created = self._create(path, payload)
        return OrderRef(str(created[id_field]), text_or_none(created.get(number_field)))

    def _create(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return odata.entity(self._post(path, {k: v for k, v in payload.items() if v is not None}))

    # --- credit notes -------------------------------------------------------------------------
    def create_credit_note(
        self,
        order: Order,
        reference: str,
        customer_id: str,
        product_ids: dict[str, str] | None,
        original: CreditSource,
    ) -> OrderRef:
        mode = mapping.credit_mode(self.settings)
        path, id_field, number_field = DOCUMENTS[mode]
        if mode != self.settings.send_as:  # find_order looked among sales orders, not here
            found = self._find(mode, reference)
            if found is not None:
                return found
        gl = self._revenue_account() if mode == "sales_entry" else None
        created = self._create(
            path,
            mapping.credit_payload(
                order, reference, customer_id, product_ids or {}, gl, self.settings, original
            ),
        )
        credit_id = str(created[id_field])
        if float(created.get("AmountFC") or 0) > 0:
            self._discard(path, credit_id)
            raise PermanentError(
                f"Exact Online booked the credit note for {reference} as a positive amount "
                f"({created.get('AmountFC')}); it was removed. Check the connection's "
                f"credit_note_quantities (now {self.settings.credit_note_quantities!r})"
            )
        if mode == "sales_entry":  # booked on create: final, nothing to process
            return OrderRef(
                credit_id,
                text_or_none(created.get(number_field)),
                invoice_number=text_or_none(created.get("InvoiceNumber")),
            )
        return OrderRef(credit_id, text_or_none(created.get(number_field)))

    def _discard(self, path: str, document_id: str) -> None:
        self.client.delete(
            f"{self.settings.api}/{path}(guid'{guid(document_id)}')",
            auth=self.auth,
            headers={"Accept": "application/json"},
        )

    # --- invoice and payment state ------------------------------------------------------------
    def invoices_since(self, cursor: Mapping[str, str]) -> InvoicePage:
        return InvoiceWatch(self.settings, self._rows).poll(cursor)

    def _revenue_account(self) -> str:
        if self._gl_account is None:
            row = self._first(
                "financial/GLAccounts",
                odata.eq("Code", self.settings.revenue_gl_account),
                "ID,Code",
            )
            if row is None:
                raise PermanentError(
                    f"revenue GL account {self.settings.revenue_gl_account} "
                    f"not found in Exact Online"
                )
            self._gl_account = str(row["ID"])
        return self._gl_account

    def cancel_order(self, order_id: str) -> str:
        """Delete the document; a processed (printed) invoice stays and needs a credit note."""
        path, _, _ = DOCUMENTS[self.settings.send_as]
        response = self.client.delete(
            f"{self.settings.api}/{path}(guid'{guid(order_id)}')",
            auth=self.auth,
            headers={"Accept": "application/json"},
        )
        if response.is_success:
            return "document removed from Exact Online"
        if response.status_code == 404:
            return "not in Exact Online any more (removed there already)"
        if response.status_code == 400:
            return (
                f"Exact Online refused to remove it (processed?): "
                f"{erp_message(response_body(response))}"
            )
        check(response)
        return "removed"

    # --- invoicing ----------------------------------------------------------------------------
    def send_invoice(self, order_id: str, email: str | None) -> None:
        if self.settings.send_as not in INVOICE_MODES:
            self._credit_invoice(order_id)
        self._post(
            "salesinvoice/PrintedSalesInvoices",
            {"InvoiceID": order_id, "SendEmailToCustomer": bool(email)},
        )

    def invoice_state(self, order_id: str) -> InvoiceState:
        if self.settings.send_as in INVOICE_MODES:
            row = odata.entity(
                self._get(
                    f"salesinvoice/SalesInvoices(guid'{guid(order_id)}')",
                    {"$select": INVOICE_STATE_FIELDS},
                )
            )
        else:
            row = self._credit_invoice(order_id)
        if int(row.get("Status") or 0) >= PROCESSED:
            return InvoiceState("sent", invoice_number=text_or_none(row.get("InvoiceNumber")))
        return InvoiceState("not_requested")

    def _credit_invoice(self, order_id: str) -> dict[str, Any]:
        """In sales-order mode only our credit notes are invoices (looked up by a filter, not a
        keyed GET, so a sales order's id costs no 404 from Exact's error budget)."""
        row = None
        if self.settings.send_as == "order":
            try:
                filter_ = odata.guid_eq("InvoiceID", order_id)
            except ValueError:
                raise PermanentError(f"not an Exact Online id: {order_id!r}") from None
            row = self._first("salesinvoice/SalesInvoices", filter_, INVOICE_STATE_FIELDS)
        if row is None:
            raise PermanentError(
                f"sending invoices needs send_as = invoice or direct_invoice "
                f"(this connection sends {self.settings.send_as})"
            )
        return row
