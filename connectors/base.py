"""What the pipeline asks of every ERP connector, and the small values it gets back.

A connector is one narrow class per ERP with methods in pipeline order. It receives its own
settings model, an `httpx.Client` (reaching the real ERP, or a simulator in tests and the demo)
and a token store; it never touches the job ledger, locks or retries.
"""

from __future__ import annotations

import hashlib
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

import httpx

from schemas.order import Customer, Order


@dataclass(frozen=True)
class ProductSpec:
    """One article the order needs in the ERP (a product line, or shipping as an article)."""
    sku: str
    name: str
    vat_rate: Decimal

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.sku, self.name, str(self.vat_rate.normalize()))


@dataclass(frozen=True)
class OrderRef:
    """A sales document in the ERP (and its invoice, for ERPs that invoice on create)."""
    id: str
    number: str | None = None
    existed: bool = False
    invoice_number: str | None = None
    document: bytes | None = field(default=None, repr=False)  # the invoice PDF, if handed back


@dataclass(frozen=True)
class InvoiceState:
    state: Literal["not_requested", "processing", "sent", "failed"]
    invoice_number: str | None = None
    message: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ErpSettings(Protocol):
    """What the shared parts ask of a connector's own settings model."""

    def rate_limits(self) -> tuple[int, float, int]:
        """(requests, per seconds, per UTC day or 0): what the ERP allows one budget key."""
        ...

    def budget_key(self) -> str:
        """The name of what the ERP limits (a subscription key, a division): connections that
        share it share one request budget."""
        ...


class GrantedTokens(Protocol):
    expires_at: float
    issued_at: float


class Consent(Protocol):
    """OAuth authorization-code consent, for ERPs that need a user's grant (Exact Online)."""

    def authorize_url(self, state: str = "orderbridge") -> str: ...
    def code_from_redirect(self, location: str) -> str | None: ...
    def exchange_code(self, code: str) -> GrantedTokens: ...


class Connector(Protocol):
    """The pipeline's view of an ERP, in pipeline order."""

    def consent(self) -> Consent | None:
        """The OAuth consent flow, or None when the ERP needs none."""
        ...

    def check_order(self, order: Order) -> list[tuple[str, str]]:
        """What this ERP cannot take in the order, as (field, message), before it is accepted
        (e.g. a serial article without serial numbers); empty when nothing."""
        ...

    def upsert_customer(self, customer: Customer, key: str) -> str: ...
    def products_for(self, order: Order) -> list[ProductSpec]: ...
    def upsert_products(self, specs: list[ProductSpec]) -> dict[str, str]: ...
    def find_order(self, reference: str, since: datetime | None) -> OrderRef | None: ...
    def create_order(self, order: Order, reference: str, customer_id: str,
                     product_ids: dict[str, str] | None = None) -> OrderRef: ...
    def send_invoice(self, order_id: str, email: str | None) -> None: ...
    def cancel_order(self, order_id: str) -> str: ...
    def invoice_state(self, order_id: str) -> InvoiceState: ...


class TokenStore(Protocol):
    """Where access tokens are shared between workers (Redis in production)."""
    def token_get(self, name: str) -> str | None: ...
    def token_put(self, name: str, value: str, ttl_seconds: float) -> None: ...
    def locked(self, *parts: str, timeout: float = 30, wait: float = 30
               ) -> AbstractContextManager[None]: ...


class ConnectorFactory(Protocol):
    """Builds a connector from its validated settings, the HTTP client and the token store."""

    def __call__(self, settings: ErpSettings, client: httpx.Client, store: TokenStore
                 ) -> Connector: ...


def fingerprint(*parts: str | None) -> str:
    """A short stable hash of the fields we send, to tell whether an ERP record needs an update."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def customer_key(customer: Customer, max_length: int = 50) -> str:
    """The key we match customers on: the shop's customer id, else the email, else the name."""
    if customer.external_id:
        key = f"id:{customer.external_id}"
    elif customer.email:
        key = f"email:{customer.email.lower()}"
    else:
        address = customer.billing_address
        key = "name:" + fingerprint(customer.display_name.lower(),
                                    address.postal_code if address else None)
    if len(key) > max_length:
        key = "h:" + hashlib.sha256(key.encode()).hexdigest()[: max_length - 2]
    return key
