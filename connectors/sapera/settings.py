"""Sapera connection settings, validated once when the configuration loads.

Sapera (Cloud Retail Systems' CRS platform) documents its read calls but not the URLs of the
sales-order commands, nor the field that holds the customer's reference: those are settings,
defaulting to our documented guesses.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class SaperaPaths(BaseModel):
    model_config = ConfigDict(extra="forbid")
    login: str = "/api/security/Authentication/Login"
    refresh: str = "/api/security/authentication/loginWithRefreshToken"
    actors_page: str = "/api/actors/Actor/GetActorsPage"
    create_actor: str = "/api/actors/Actor/CreateActor"
    product_page: str = "/api/inventory/Product/GetProductPage"
    variant_infos: str = "/api/inventory/ProductVariant/GetProductVariantInfos"
    instances: str = "/api/inventory/ProductInstance/GetProductInstances"
    financial_accounts: str = "/api/accounting/FinancialAccount/GetFinancialAccounts"
    orders_page: str = "/api/financial/SalesOrder/GetSalesOrdersPage"
    create_order: str = "/api/financial/SalesOrder/CreateSalesOrder"
    update_order: str = "/api/financial/SalesOrder/UpdateSalesOrder"
    set_ready: str = "/api/financial/SalesOrder/SetSalesOrderReady"
    create_invoice: str = "/api/financial/Invoice/CreateInvoiceFromSalesOrder"
    book_invoice: str = "/api/financial/Invoice/BookInvoice"
    get_invoice: str = "/api/financial/Invoice/GetInvoice"
    invoices_page: str = "/api/financial/Invoice/GetInvoicesPage"


class SaperaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str  # per tenant, e.g. https://<tenant>.cloudretailsystems.dk
    tenant: str
    user: str
    password: SecretStr
    paths: SaperaPaths = Field(default_factory=SaperaPaths)
    # Where our reference goes on the order (inside SetSalesOrderCustomerDataModelUpdate), and
    # whether GetSalesOrdersPage can filter on it: both unconfirmed. When it cannot, orders
    # created in the last `lookback_days` are paged and matched here.
    customer_reference_field: str = "customerReference"
    customer_reference_filterable: bool = False
    lookback_days: float = Field(3.0, gt=0)
    allow_modifying_when_ready: bool = False
    # A shop price above Sapera's would be a negative discount: refuse it (default), or send the
    # shop's price as the item's price (Sapera accepts that only for products that allow
    # user-defined prices).
    price_above_list: Literal["refuse", "send_price"] = "refuse"
    shipping_sku: str = "FRAKT"
    # After the order (invoices.py): the invoice read's field for the UI's "Remaining amount"
    # (unconfirmed); the currency when an invoice names none (Sapera's tenants are Danish).
    remaining_amount_field: str = "remainingAmount"
    currency: str = "DKK"
    # The first poll looks this far back; each later one from the newest change it saw, less
    # the overlap (a change saved late under an earlier stamp is still seen).
    invoice_lookback_days: float = Field(3.0, gt=0)
    invoice_overlap_seconds: float = Field(120.0, ge=0)
    # Whether a payment moves an invoice's updatedAt is unconfirmed: this often (None: never,
    # 0: every poll) the invoices created in the last `payment_sweep_days` are read again.
    payment_sweep_minutes: float | None = Field(15.0, ge=0)
    payment_sweep_days: float = Field(30.0, gt=0)
    # Where a credit note names the invoice it credits (a root field of the sales-order
    # command, after the UI's "Subject"; unconfirmed). None: not sent.
    subject_field: str | None = "subject"
    refresh_margin_seconds: float = Field(60.0, ge=0)
    page_size: int = Field(100, ge=1, le=1000)
    # Sapera publishes no rate limit: stay polite.
    requests_per_second: float = Field(5.0, gt=0)

    def rate_limits(self) -> tuple[int, float, int]:
        return max(1, round(self.requests_per_second)), 1.1, 0

    def budget_key(self) -> str:
        return f"sapera:{self._identity()}"

    def token_name(self) -> str:
        return f"sapera:{self._identity()}"

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"

    def _identity(self) -> str:
        raw = f"{self.base_url}|{self.tenant}|{self.user}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]
