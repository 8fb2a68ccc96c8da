"""Duett Økonomi connection settings, validated once when the configuration loads.

Duett's v2 routes for orders, customers and articles are not published in a form we could read
(the Swagger page is online only): every path is a setting, defaulting to our best guess.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# Canonical VAT rate → Duett's taxSaleId (sales VAT codes on orders).
DEFAULT_TAX_CODES = {"0.25": "vat", "0.15": "food", "0.12": "low", "0": "noVat"}
PayType = Literal["cash", "invoice", "autoPay", "payCard", "creditCard", "currency"]


class DuettPaths(BaseModel):
    model_config = ConfigDict(extra="forbid")
    orders: str = "Order/v2"
    customers: str = "Customer/v2"
    articles: str = "Article/v2"
    zip_codes: str = "Register/v2/ZipCodes"
    # The voucher report (customer ledger); documented, its route is not.
    voucher_report: str = "Report/v2/Voucher"


class DuettSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str = "https://api.duett.no"
    integration_key: SecretStr
    client_key: SecretStr
    paths: DuettPaths = Field(default_factory=DuettPaths)
    # How the company enters prices (Duett computes VAT from it); ask the customer's accountant.
    price_mode: Literal["net", "gross"] = "net"
    # AutoCustomerNumberFromSerieId: the customer number series (Register/v2/AccountIntervals).
    customer_number_series_id: int | None = None
    # The customer field that holds the organisation number (v1: vatNumber; v2 unconfirmed).
    org_number_field: str = "organizationNumber"
    order_status: Literal["saved", "orderReadyToSend"] = "saved"
    pay_type: PayType = "invoice"
    our_reference: str = "orderbridge"
    serial_skus: list[str] = Field(default_factory=list)
    tax_codes: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TAX_CODES))
    shipping_article: str = "FRAKT"
    # Direct invoicing (send_invoice): the invoice layout and how Duett sends it.
    style_sheet_id: int | None = None
    send_method: str | None = None
    # Unconfirmed whether orders can be filtered by orderReference; when not, recent orders are
    # listed and matched here.
    order_reference_filterable: bool = True
    recent_orders_scanned: int = Field(200, ge=1, le=5000)
    article_batch_size: int = Field(50, ge=1, le=200)
    # Invoice watch (see `invoices`): the first poll looks this many days back; later polls
    # re-read this many row versions before the highest seen (a write that started earlier
    # may commit later); one list GET asks for at most this many rows.
    invoice_lookback_days: int = Field(3, ge=1, le=60)
    row_version_overlap: int = Field(100, ge=0, le=100_000)
    invoice_page_size: int = Field(200, ge=10, le=1000)
    # Which voucher report field holds the invoice number of an outgoing invoice (unconfirmed).
    ledger_invoice_number_field: Literal["voucherNumber", "refNumber"] = "voucherNumber"
    # Credit notes (orderType credit): the sign we send on their lines first; unconfirmed, so a
    # refusal of that sign (400 on countAgreed) is retried once with the other (see `credit`).
    credit_line_sign: Literal["positive", "negative"] = "positive"
    # An order field that links a credit note to the invoice it credits, if the company's Duett
    # has one (unconfirmed: none is documented). The credit note always names the invoice in a
    # text line made from `credit_text`.
    credit_link_field: str | None = Field(None, pattern=r"^[A-Za-z][A-Za-z0-9]*$")
    credit_text: str = "Kreditnota for faktura {invoice}"
    # Duett publishes no rate limit: stay polite.
    requests_per_second: float = Field(5.0, gt=0)

    @field_validator("credit_text")
    @classmethod
    def _names_the_invoice_once(cls, text: str) -> str:
        """`{invoice}` exactly once and no other placeholder: it is filled in, and read back."""
        try:
            filled = text.format(invoice="\x00")
        except (KeyError, IndexError, ValueError):
            raise ValueError("credit_text may only use the placeholder {invoice}") from None
        if filled.count("\x00") != 1:
            raise ValueError("credit_text must contain {invoice} exactly once")
        return text

    def rate_limits(self) -> tuple[int, float, int]:
        return max(1, round(self.requests_per_second)), 1.1, 0

    def budget_key(self) -> str:
        """Duett's keys are per customer (client key): one budget per company."""
        digest = hashlib.sha256(self.client_key.get_secret_value().encode()).hexdigest()
        return f"duett:{digest[:16]}"

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path.strip('/')}"
