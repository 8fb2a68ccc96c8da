"""What a dry run's stand-in reads of the Sapera tenant to answer a write as Sapera would: the
products, variants and instances a sale item names, the VAT rate of an account, whether an
actor exists.

These are the ERP's own read queries (the ones the connector uses too), sent through the dry
run's `read` with the write's own access token. A read that Sapera refuses (an expired token,
an outage) is not ours to judge: `ReadFailed` carries its answer, which the stand-in gives the
write, so the connector meets what it would have met on the write itself.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from connectors.errors import response_body
from connectors.rehearsal import Read
from connectors.sapera.envelope import wrap
from connectors.sapera.settings import SaperaSettings
from connectors.values import decimal_or_none

Row = dict[str, Any]
MAX_PAGES = 50


class ReadFailed(Exception):
    """A read that Sapera answered with an error; `response` is that answer."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.request.url.path}: HTTP {response.status_code}")
        self.response = response


class TenantReads:
    """Read queries on behalf of one write; `cache` outlives it (one per dry run), so a dry
    run reads the accounts and a product's variants once."""

    def __init__(
        self, settings: SaperaSettings, read: Read, authorization: str | None, cache: dict[str, Any]
    ) -> None:
        self.settings, self.paths = settings, settings.paths
        self._read, self._authorization, self._cache = read, authorization, cache

    def value(self, path: str, body: Row) -> Any:
        headers = {"Accept": "application/json"}
        if self._authorization:
            headers["Authorization"] = self._authorization
        request = httpx.Request("POST", self.settings.url(path), json=body, headers=headers)
        response = self._read(request)
        answer = response_body(response)
        envelope = answer.get("errorOrValue", answer) if isinstance(answer, dict) else None
        if not response.is_success or not isinstance(envelope, dict) or envelope.get("error"):
            raise ReadFailed(response)
        return envelope.get("value")

    def page(self, path: str, body: Row) -> list[Row]:
        rows: list[Row] = []
        size = self.settings.page_size
        for offset in range(0, MAX_PAGES * size, size):
            value = self.value(
                path, {**body, "offset": offset, "count": size, "includeOverallEntryCount": False}
            )
            entries = (value or {}).get("entries") or []
            rows.extend(entries)
            if len(entries) < size:
                break
        return rows

    def product(self, product_id: int | None, identifier: str | None) -> Row | None:
        """The product by id (when given) else by its own identifier; searched for by the
        identifier first (Sapera's search matches identifiers), then among all products."""
        for pattern in ([identifier] if identifier else []) + [None]:
            body = {"searchPattern": wrap(pattern)} if pattern else {}
            for entry in self.page(self.paths.product_page, body):
                product = entry.get("product", entry)
                if product_id is not None and product.get("id") == product_id:
                    return dict(product)
                if product_id is None and _same(product.get("identifier"), identifier):
                    return dict(product)
            if product_id is None:
                return None  # the search finds every product with that identifier
        return None

    def variants(self, product_id: int) -> list[Row]:
        return self._rows_of(self.paths.variant_infos, product_id)

    def instances(self, product_id: int) -> list[Row]:
        return self._rows_of(self.paths.instances, product_id)

    def vat_rate(self, account: str) -> Decimal | None:
        """The rate of the account (None: Sapera has no such account)."""
        rates = self._cache.get("accounts")
        if rates is None:
            rows = self.value(self.paths.financial_accounts, {}) or []
            rates = {str(r["number"]): decimal_or_none(r.get("vatRate")) for r in rows}
            self._cache["accounts"] = rates
        found: Decimal | None = rates.get(account)
        return found

    def actor_exists(self, actor_id: int) -> bool:
        body = {"actorIds": wrap([actor_id])}
        return any(a.get("id") == actor_id for a in self.page(self.paths.actors_page, body))

    def _rows_of(self, path: str, product_id: int) -> list[Row]:
        key = f"{path}:{product_id}"
        if key not in self._cache:
            self._cache[key] = list(self.value(path, {"productId": wrap(product_id)}) or [])
        rows: list[Row] = self._cache[key]
        return rows


def _same(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.casefold() == b.casefold()
