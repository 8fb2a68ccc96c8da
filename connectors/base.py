"""What the pipeline asks of every ERP connector, and the small values it gets back.

A connector is one narrow class per ERP with methods in pipeline order. It receives its own
settings model, an `httpx.Client` (reaching the real ERP, or a simulator in tests and the demo)
and a token store; it never touches the job ledger, locks or retries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol, runtime_checkable

import httpx

from schemas.dropped import Dropped
from schemas.order import Customer, Order


@dataclass(frozen=True)
class ProductSpec:
    """One article the order needs in the ERP (a product line, or shipping as an article)."""

    sku: str
    name: str
    vat_rate: Decimal
    # The order gives serial numbers for it: an ERP that tracks them (Duett) needs a serial
    # article, so the article is checked again rather than taken from the cache.
    serial: bool = False

    @property
    def fingerprint(self) -> str:
        parts = [self.sku, self.name, str(self.vat_rate.normalize())]
        # Only a serial spec adds a part: fingerprints cached before the flag existed stay valid.
        return fingerprint(*parts, "serial") if self.serial else fingerprint(*parts)


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


@dataclass(frozen=True)
class InvoiceSnapshot:
    """One invoice or credit note as the ERP shows it now. Shared code compares snapshots with
    what it saw before to tell created / partly paid / paid, so a snapshot seen twice is harmless.
    `balance` is what is left to pay (0 = paid; for a credit note, what is left to refund)."""

    id: str
    number: str
    kind: Literal["invoice", "credit_note"]
    total: Decimal
    balance: Decimal
    currency: str
    order_id: str | None = None  # the ERP sales order (or document) it was made from
    reference: str | None = None  # our reference on it, when the ERP keeps one
    credited_invoice: str | None = None  # for a credit note: the invoice number it credits
    changed_at: datetime | None = None  # the ERP's own change stamp, when it has one


@dataclass(frozen=True)
class InvoicePage:
    """What one `invoices_since` call found, and the cursor to store once the events it
    causes are stored. The cursor is the connector's own (opaque to shared code): it must be
    safe to ask again with an older cursor (overlap is deduplicated, a gap is never allowed)."""

    invoices: list[InvoiceSnapshot]
    cursor: dict[str, str]
    more: bool = False  # the ERP has more: call again at once with the new cursor


@dataclass(frozen=True)
class CreditSource:
    """The original document a credit note refers to, as the original job recorded it.
    `total` is what its product and shipping lines come to including VAT (`Order.gross_total`),
    None when the original order is no longer kept (purged after the retention)."""

    order_id: str
    order_number: str | None
    invoice_number: str | None
    total: Decimal | None
    currency: str


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

    def unmapped(self, order: Order, reference: str) -> list[Dropped]:
        """The fields of the order this ERP will not get (or only in part), each with why;
        only fields the order actually has. `reference` is ours for the order (some ERPs
        carry the order number only inside it). Empty when everything arrives."""
        ...

    def upsert_customer(self, customer: Customer, key: str) -> str: ...
    def products_for(self, order: Order) -> list[ProductSpec]: ...
    def upsert_products(self, specs: list[ProductSpec]) -> dict[str, str]: ...
    def find_order(self, reference: str, since: datetime | None) -> OrderRef | None: ...
    def create_order(
        self,
        order: Order,
        reference: str,
        customer_id: str,
        product_ids: dict[str, str] | None = None,
    ) -> OrderRef: ...
    def send_invoice(self, order_id: str, email: str | None) -> None: ...
    def cancel_order(self, order_id: str) -> str: ...
    def invoice_state(self, order_id: str) -> InvoiceState: ...

    def invoices_since(self, cursor: Mapping[str, str]) -> InvoicePage:
        """Invoices and credit notes that are new or whose balance changed since `cursor`
        (empty: start from now, or from what the ERP lets us see cheaply). Never the lines."""
        ...

    def create_credit_note(
        self,
        order: Order,
        reference: str,
        customer_id: str,
        product_ids: dict[str, str] | None,
        original: CreditSource,
    ) -> OrderRef:
        """Create the credit note for `order` (positive quantities: what is credited) under
        `reference`, linked to `original` as far as the ERP allows. Like `create_order`, an
        `existed` answer means the reference was already used."""
        ...


@runtime_checkable
class InvoiceLines(Protocol):
    """Optional: a connector that can read one invoice's lines (for an operator who asks;
    the invoice watch never reads lines)."""

    def invoice_lines(self, invoice_id: str) -> list[dict[str, Any]]: ...


class TokenStore(Protocol):
    """Where access tokens are shared between workers (Redis in production)."""

    def token_get(self, name: str) -> str | None: ...
    def token_put(self, name: str, value: str, ttl_seconds: float) -> None: ...
    def locked(
        self, *parts: str, timeout: float = 30, wait: float = 30
    ) -> AbstractContextManager[None]: ...


class ConnectorFactory(Protocol):
    """Builds a connector from its validated settings, the HTTP client and the token store."""

    def __call__(
        self, settings: ErpSettings, client: httpx.Client, store: TokenStore
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
        key = "name:" + fingerprint(
            customer.display_name.lower(), address.postal_code if address else None
        )
    if len(key) > max_length:
        key = "h:" + hashlib.sha256(key.encode()).hexdigest()[: max_length - 2]
    return key
