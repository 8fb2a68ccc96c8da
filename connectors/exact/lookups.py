"""The reads a dry run makes in Exact Online to answer a write as Exact would: the VAT codes and
their percentages, the sales journal, the warehouse, items' and G/L accounts' default VAT codes,
whether an account or invoice exists, and the user's language (which Exact's texts follow).

Each is asked only when an answer depends on it, and kept for the run (one order), because every
read costs one of the division's 60 calls a minute. Reads carry the bearer token of the write
being answered, so the stand-in needs no credentials of its own.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.exact import odata
from connectors.exact.refusal import not_a_guid
from connectors.exact.settings import ExactSettings
from connectors.rehearsal import Read

Row = dict[str, Any]
BATCH = 25
MAX_PAGES = 10


class ReadFailed(Exception):
    """Exact did not answer a read (a 401, a 429, a 5xx...): the write gets that answer."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"read answered {response.status_code}")
        self.response = response


class Lookups:
    def __init__(self, settings: ExactSettings) -> None:
        self.settings = settings
        self._read: Read | None = None
        self._headers: dict[str, str] = {}
        self._vat: dict[str, Decimal] | None = None
        self._journals: dict[str, Row | None] = {}
        self._warehouses: dict[str, bool] = {}
        self._items: dict[str, Row] = {}
        self._gl_accounts: dict[str, Row | None] = {}
        self._language: str | None = None

    def using(self, request: httpx.Request, read: Read) -> None:
        """Read with `read`, as the user of the write `request` (its bearer token)."""
        self._read = read
        self._headers = {"Accept": "application/json"}
        if "Authorization" in request.headers:
            self._headers["Authorization"] = request.headers["Authorization"]

    # --- what the checks ask ------------------------------------------------------------------
    def vat_percentage(self, code: str) -> Decimal | None:
        """The percentage of a VAT code (codes compare without their padding: `"2  "`)."""
        if self._vat is None:
            rows = self._list("vat/VATCodes", {"$select": "Code,Percentage"})
            self._vat = {
                str(row["Code"]).strip(): Decimal(str(row.get("Percentage") or 0)) for row in rows
            }
        return self._vat.get(code.strip())

    def journal(self, code: str) -> Row | None:
        if code not in self._journals:
            self._journals[code] = self._first(
                "financial/Journals", odata.eq("Code", code), "Code,Type"
            )
        return self._journals[code]

    def warehouse_exists(self, warehouse_id: str) -> bool:
        if warehouse_id not in self._warehouses:
            filter_ = self._guid_eq("ID", "Warehouse", warehouse_id)
            row = self._first("inventory/Warehouses", filter_, "ID")
            self._warehouses[warehouse_id] = row is not None
        return self._warehouses[warehouse_id]

    def items(self, item_ids: list[str]) -> dict[str, Row]:
        """The items among `item_ids` that exist, by id (25 per read)."""
        wanted = [item for item in dict.fromkeys(item_ids) if item not in self._items]
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start : start + BATCH]
            filter_ = "(" + " or ".join(self._guid_eq("ID", "Item", i) for i in batch) + ")"
            select = "ID,SalesVatCode,StandardSalesPrice"
            rows = self._list("logistics/Items", {"$filter": filter_, "$select": select})
            self._items.update({str(row["ID"]): row for row in rows})
        return {item: self._items[item] for item in item_ids if item in self._items}

    def gl_account(self, account_id: str) -> Row | None:
        if account_id not in self._gl_accounts:
            self._gl_accounts[account_id] = self._first(
                "financial/GLAccounts", self._guid_eq("ID", "GLAccount", account_id), "ID,VATCode"
            )
        return self._gl_accounts[account_id]

    def account(self, account_id: str, field: str) -> Row | None:
        return self._first("crm/Accounts", self._guid_eq("ID", field, account_id), "ID,Code,Name")

    def invoice(self, invoice_id: str) -> Row | None:
        return self.stored("salesinvoice/SalesInvoices", "InvoiceID", invoice_id, "Status")

    def stored(self, path: str, key_field: str, key: str, *fields: str) -> Row | None:
        """The row of `path` with this key, if Exact has it (looked up by a filter: a keyed GET
        of a missing row would count against Exact's error budget)."""
        select = ",".join((key_field, *fields))
        return self._first(path, self._guid_eq(key_field, key_field, key), select)

    def language(self) -> str:
        """The language of the user's validation texts, "nl" or "en" (`current/Me`)."""
        if self._language is None:
            parts = urlsplit(self.settings.api)
            url = f"{parts.scheme}://{parts.netloc}/api/v1/current/Me"
            rows = odata.results(self._get(url, {"$select": "LanguageCode"}))
            code = str((rows[0] if rows else {}).get("LanguageCode") or "")
            self._language = "nl" if code.lower().startswith("nl") else "en"
        return self._language

    # --- plumbing -----------------------------------------------------------------------------
    @staticmethod
    def _guid_eq(field: str, sent_as: str, value: str) -> str:
        try:
            return odata.guid_eq(field, value)
        except ValueError:
            raise not_a_guid(sent_as) from None

    def _first(self, path: str, filter_: str, select: str) -> Row | None:
        rows = odata.results(
            self._get(
                f"{self.settings.api}/{path}", {"$filter": filter_, "$select": select, "$top": "1"}
            )
        )
        return rows[0] if rows else None

    def _list(self, path: str, params: dict[str, str]) -> list[Row]:
        rows, link = odata.page(self._get(f"{self.settings.api}/{path}", params))
        for _ in range(MAX_PAGES - 1):
            if not link:
                break
            more, link = odata.page(self._get(link, {}))
            rows.extend(more)
        return rows

    def _get(self, url: str, params: dict[str, str]) -> httpx.Response:
        if self._read is None:
            raise RuntimeError("Lookups.using() was not called")
        request = httpx.Request("GET", url, params=params or None, headers=self._headers)
        response = self._read(request)
        if not response.is_success:
            raise ReadFailed(response)
        return response
