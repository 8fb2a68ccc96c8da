"""What orderbridge asks of a shop platform, as `connectors.base` says what it asks of an ERP.

A shop is where orders come from. Shared code (the webhook route, `tasks.sources`,
`tasks.reconcile`, `tasks.refunds`) knows a shop only through `ShopSource`, found by name in
`connectors.shops.registry`; each shop's package holds everything else about it: how its webhooks
are signed and named, how its payloads map to canonical orders, refunds and statuses, and how its
API is read.

Payloads are the shop's own JSON objects (dicts). Mapping methods are pure and raise
`MappingError` naming the shop's field; reading methods raise the connector errors
(`connectors.errors`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import httpx

from connectors.base import TokenStore
from connectors.shops.created import CreatedOrders
from connectors.shops.settings import ShopSettings
from schemas.order import Order
from schemas.shops.status import ShopStatus

# What a handled topic's body is: an order (created, updated, paid, cancelled...), a refund of
# an order, or the notice that an order was deleted (its body holds little more than the id).
Kind = Literal["order", "refund", "deleted"]


@dataclass(frozen=True)
class Webhook:
    """How a shop's webhook deliveries look, for the route and for `/openapi.json`."""

    signature_header: str  # named when a delivery is refused for its signature
    topics: Mapping[str, Kind]  # the topics handled; any other is answered 200 `ignored`
    headers: Mapping[str, tuple[str, bool]]  # documented: name → (description, required)
    content: Mapping[str, Any]  # the request body's media types, as OpenAPI `content`
    description: str
    # The delivery's identity is read from the order in its body (`delivery_keys` reads the
    # payload): the order is then mapped before the duplicate check, so an unusable body is
    # refused rather than taken for a repeat of a good one with the same identity. Otherwise
    # (identity in the headers) a repeat is answered before any mapping.
    identity_in_body: bool = False


class ShopSource(Protocol):
    """One shop platform: its webhooks, its payloads, its API."""

    webhook: Webhook

    # -- a webhook delivery; `headers` is case-insensitive (lower-case names are asked for)

    def ping(self, headers: Mapping[str, str], raw: bytes) -> bool:
        """True for the unsigned hello some shops send when a webhook is set up."""
        ...

    def verified(self, headers: Mapping[str, str], raw: bytes, secrets: list[bytes]) -> bool:
        """The delivery is signed with one of `secrets` (two while a secret is rotated)."""
        ...

    def topic(self, headers: Mapping[str, str]) -> str: ...

    def delivery_keys(self, headers: Mapping[str, str], topic: str, payload: Any) -> list[str]:
        """What identifies this delivery, so a repeat is answered at once without work (empty:
        every delivery is looked at). May read `payload` (MappingError naming the field)."""
        ...

    # -- payloads (pure)

    def order(self, payload: dict[str, Any], *, fallback_sku: str | None) -> Order: ...
    def status(self, payload: dict[str, Any]) -> ShopStatus: ...

    def deleted_order_id(self, payload: Any) -> str:
        """The order a `deleted` topic's body names."""
        ...

    def listed_refunds(self, payload: dict[str, Any]) -> list[str]:
        """The refund ids an order body lists without their lines (their credit notes need a
        read of the shop's API); empty when the shop sends refunds by their own topic."""
        ...

    def refunded_order_id(self, refund: dict[str, Any]) -> str:
        """The order a refund (a `refund` topic's body) belongs to; empty when not said."""
        ...

    def refund(
        self,
        refund: dict[str, Any],
        original: Order | None,
        order_payload: dict[str, Any] | None,
        *,
        fallback_sku: str | None,
    ) -> Order:
        """The canonical credit order of one refund, mapped against the refunded order as we
        took it in (`original`) or, when we have not, its body as the shop sent it."""
        ...

    # -- the shop's API; every reader takes the token store, so short-lived tokens are shared

    def orders_since(
        self, shop: ShopSettings, since: datetime, client: httpx.Client, store: TokenStore
    ) -> Iterator[dict[str, Any]]:
        """Every order changed at or after `since` (reconciliation's cursor), oldest first."""
        ...

    def orders_created(
        self,
        shop: ShopSettings,
        since: datetime,
        until: datetime,
        client: httpx.Client,
        store: TokenStore | None,
    ) -> CreatedOrders:
        """The orders created in [since, until), page by page with a cursor that lets a
        backfill stop after any page and go on later (`connectors.shops.created`)."""
        ...

    def created_oldest_first(self, shop: ShopSettings) -> bool:
        """Whether `orders_created` gives the oldest orders first (a backfill's progress bar
        follows the creation times either way)."""
        ...

    def refunds_of(
        self,
        shop: ShopSettings,
        payload: dict[str, Any],
        client: httpx.Client,
        store: TokenStore,
        wanted: Callable[[str], bool],
    ) -> list[dict[str, Any]]:
        """The refunds of the order in `payload` whose id is `wanted` (those without a credit
        job), read from the shop's API with their lines; no request when none can be wanted."""
        ...


def signed(raw: bytes, signature: str | None, secrets: list[bytes]) -> bool:
    """`signature` is the base64 HMAC-SHA256 of `raw` with one of `secrets` (two during a
    rotation), compared in constant time."""
    if not signature or not secrets:
        return False
    given = signature.strip().encode()
    return any(
        hmac.compare_digest(base64.b64encode(hmac.new(secret, raw, hashlib.sha256).digest()), given)
        for secret in secrets
    )
