"""The Sapera connector: actors, SKU resolution, sales orders, their invoicing, and after the
order the invoices read back (invoices.py) and credit notes.

Every call is a POST command or query with the answer in an `errorOrValue` envelope. Sapera has
no idempotency key and no unique external reference, so exactly-once is ours: our reference goes
in the order's customer-reference field and orders are searched for it (`GetSalesOrdersPage`)
before creating and after any ambiguous failure. Invoicing is three commands (set ready, create
the invoice, book it); each is skipped when Sapera's state says it was done, so a retry never
creates or books an invoice twice.

Credit notes: Sapera's UI credits a posted invoice ("Credit note", then "Post"); how its API
does that is unconfirmed. Of the two plausible ways - a credit from the invoice's own endpoint,
or a sales order of returned items (negative quantities) invoiced and booked - we take the
second: it needs no URL beyond the ones orders already use, carries our reference where
`find_order` looks, so a credit note is created exactly once like an order, credits any subset
of lines, and is booked by the same `send_invoice`. Its link to the original is a text naming
the invoice (`subject_field`); Sapera's own link between the two is what we give up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
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
from connectors.errors import PermanentError
from connectors.http import BearerAuth
from connectors.sapera import invoices, mapping
from connectors.sapera.auth import SaperaLogin
from connectors.sapera.envelope import value_of, wrap
from connectors.sapera.mapping import Item, Resolved
from connectors.sapera.settings import SaperaSettings
from connectors.sapera.unmapped import dropped
from connectors.values import decimal_or_none, text_or_none
from schemas.dropped import Dropped
from schemas.order import Customer, Order

SALES_ORDER_ITEMS = 1  # propertiesToLoad flag
READY_OR_LATER = {"Ready", "Invoiced", "Completed"}
SINCE_MARGIN = timedelta(minutes=10)


class SaperaConnector:
    def __init__(self, settings: SaperaSettings, client: httpx.Client, store: TokenStore) -> None:
        self.settings = settings
        self.client = client
        self.paths = settings.paths
        self.auth = BearerAuth(SaperaLogin(settings, client, store))
        self._accounts: dict[str, Decimal] | None = None

    def consent(self) -> Consent | None:
        return None  # user and password; a refused login blocks the connection instead

    def unmapped(self, order: Order, reference: str) -> list[Dropped]:
        return dropped(order, reference, self.settings)

    def check_order(self, order: Order) -> list[tuple[str, str]]:
        return []  # what has no place here (text lines, ...) is reported by `unmapped`

    # --- plumbing -----------------------------------------------------------------------------
    def _call(self, path: str, body: dict[str, Any], command: bool = False) -> Any:
        response = self.client.post(
            self.settings.url(path),
            json=body,
            auth=self.auth,
            headers={"Accept": "application/json"},
        )
        return value_of(response, command)

    def _page(self, path: str, body: dict[str, Any], pages: int = 100) -> list[dict[str, Any]]:
        """Every entry of a Get...Page query, page by page (at most `pages` of them)."""
        rows: list[dict[str, Any]] = []
        size = self.settings.page_size
        for offset in range(0, pages * size, size):
            value = self._call(
                path, {**body, "offset": offset, "count": size, "includeOverallEntryCount": False}
            )
            entries = (value or {}).get("entries") or []
            rows.extend(entries)
            if len(entries) < size:
                break
        return rows

    # --- customers ----------------------------------------------------------------------------
    def upsert_customer(self, customer: Customer, key: str) -> str:
        pattern = customer.email or key
        for actor in self._page(self.paths.actors_page, {"searchPattern": wrap(pattern)}):
            if _same(actor.get("email"), customer.email) or actor.get("customerIdentifier") == key:
                return str(actor["id"])
        value = self._call(
            self.paths.create_actor, mapping.actor_command(customer, key), command=True
        )
        return str(value["id"])

    # --- SKUs ---------------------------------------------------------------------------------
    def products_for(self, order: Order) -> list[ProductSpec]:
        specs: dict[str, ProductSpec] = {}
        for _, sku, _, _, rate in mapping.lines_to_items(order, self.settings):
            specs.setdefault(sku, ProductSpec(sku, sku, rate))
        return list(specs.values())

    def upsert_products(self, specs: list[ProductSpec]) -> dict[str, str]:
        """Sapera's articles are never created by us: each SKU must resolve to a product, a
        variant or an instance (a missing one is permanent, naming it)."""
        return {spec.sku: self.resolve(spec.sku).ids() for spec in specs}

    def resolve(self, sku: str) -> Resolved:
        entries = self._page(self.paths.product_page, {"searchPattern": wrap(sku)})
        for entry in entries:
            product = entry.get("product", entry)
            found = self._resolve_in(product, sku)
            if found is not None:
                return found
        raise PermanentError(f"{sku} is not a product, variant or instance in Sapera")

    def _resolve_in(self, product: dict[str, Any], sku: str) -> Resolved | None:
        pid, identifier = int(product["id"]), str(product.get("identifier") or "")
        account = text_or_none(product.get("financialAccountNumber"))
        rate = self._vat_rate(account)
        base = (
            decimal_or_none(product.get("salesPrice")),
            decimal_or_none(product.get("costPrice")),
        )
        default_cost = (
            decimal_or_none(product.get("defaultCostPrice"))
            if product.get("isDefaultCostPriceApplicable")
            else None
        )
        has_variants = bool(product.get("isProductVariantsSupported"))
        has_instances = bool(product.get("isProductInstancesSupported"))
        if _same(product.get("identifier"), sku):
            requires = "variant" if has_variants else "instance" if has_instances else None
            return Resolved(
                sku,
                pid,
                identifier,
                None,
                None,
                base[0],
                base[1] or default_cost,
                rate,
                account,
                requires,
            )
        for kind, path, enabled in (
            ("variant", self.paths.variant_infos, has_variants),
            ("instance", self.paths.instances, has_instances),
        ):
            if not enabled:
                continue
            for row in self._call(path, {"productId": wrap(pid)}) or []:
                if _same(row.get("identifier"), sku):
                    price = decimal_or_none(row.get("salesPrice")) or base[0]
                    cost = decimal_or_none(row.get("costPrice")) or base[1] or default_cost
                    rid = int(row["id"])
                    return Resolved(
                        sku,
                        pid,
                        identifier,
                        rid if kind == "variant" else None,
                        rid if kind == "instance" else None,
                        price,
                        cost,
                        rate,
                        account,
                    )
        return None

    def _vat_rate(self, account: str | None) -> Decimal | None:
        if self._accounts is None:
            rows = self._call(self.paths.financial_accounts, {}) or []
            self._accounts = {str(r["number"]): Decimal(str(r["vatRate"])) for r in rows}
        return self._accounts.get(account) if account else None

    # --- orders -------------------------------------------------------------------------------
    def find_order(self, reference: str, since: datetime | None) -> OrderRef | None:
        field = self.settings.customer_reference_field
        if self.settings.customer_reference_filterable:
            query: dict[str, Any] = {field: wrap(reference)}
        else:  # no filter on it: the orders created since the attempt, matched here
            start = (
                (since - SINCE_MARGIN)
                if since
                else datetime.now(UTC) - timedelta(days=self.settings.lookback_days)
            )
            end = datetime.now(UTC) + timedelta(hours=1)
            query = {"createdAt": wrap({"from": start.isoformat(), "to": end.isoformat()})}
        for entry in self._page(self.paths.orders_page, query):
            if entry.get(field, entry.get("customerReference")) == reference:
                return _ref(entry, existed=True)
        return None

    def create_order(
        self,
        order: Order,
        reference: str,
        customer_id: str,
        product_ids: dict[str, str] | None = None,
    ) -> OrderRef:
        items = self._items(order)
        value = self._call(
            self.paths.create_order,
            mapping.order_command(reference, customer_id, items, self.settings),
            command=True,
        )
        return _ref(value, existed=False)

    def create_credit_note(
        self,
        order: Order,
        reference: str,
        customer_id: str,
        product_ids: dict[str, str] | None,
        original: CreditSource,
    ) -> OrderRef:
        """A sales order of the returned lines (see the module docstring), under `reference`;
        `send_invoice` invoices and books it like any order."""
        items = self._items(order)
        mapping.check_credit(items, original)
        command = mapping.order_command(
            reference, customer_id, items, self.settings, credit_text=mapping.credit_text(original)
        )
        return _ref(self._call(self.paths.create_order, command, command=True), existed=False)

    def _items(self, order: Order) -> list[Item]:
        items = [
            self._item(order, where, sku, qty, amount, rate)
            for where, sku, qty, amount, rate in mapping.lines_to_items(order, self.settings)
        ]
        if not items:
            raise PermanentError("the order has no product or shipping line for Sapera")
        return items

    def _item(
        self, order: Order, where: str, sku: str, quantity: Decimal, amount: Decimal, rate: Decimal
    ) -> Item:
        return mapping.plan_item(
            self.resolve(sku),
            quantity,
            amount,
            rate,
            order.prices_include_vat,
            where,
            self.settings,
        )

    # --- invoicing ----------------------------------------------------------------------------
    def send_invoice(self, order_id: str, email: str | None) -> None:
        """Set ready, create the invoice, book it: each only if Sapera has not done it yet."""
        entry = self._order(order_id)
        if entry.get("state") not in READY_OR_LATER:
            self._call(self.paths.set_ready, {"id": int(entry["id"])}, command=True)
        invoice_ids = list(entry.get("invoiceIds") or [])
        if not invoice_ids:
            created = self._call(
                self.paths.create_invoice, {"salesOrderId": int(entry["id"])}, command=True
            )
            invoice_ids = [created["id"]]
        for invoice_id in invoice_ids:
            invoice = self._call(self.paths.get_invoice, {"id": int(invoice_id)})
            if not invoice.get("isBooked"):
                self._call(self.paths.book_invoice, {"id": int(invoice_id)}, command=True)

    def invoice_state(self, order_id: str) -> InvoiceState:
        entry = self._order(order_id)
        for invoice_id in entry.get("invoiceIds") or []:
            invoice = self._call(self.paths.get_invoice, {"id": int(invoice_id)})
            if invoice.get("isBooked"):
                return InvoiceState(
                    "sent",
                    invoice_number=text_or_none(invoice.get("number")),
                    extra={"total": invoice.get("total")},
                )
        # Not booked yet: the send step runs the remaining commands (each only once).
        return InvoiceState("not_requested")

    def invoices_since(self, cursor: Mapping[str, str]) -> InvoicePage:
        """Booked invoices and credit notes changed since `cursor`; see invoices.py for what
        Sapera can't say and what we poll instead."""
        return invoices.invoices_since(
            lambda body: self._page(self.paths.invoices_page, body, pages=1000),
            self.settings,
            cursor,
        )

    def cancel_order(self, order_id: str) -> str:
        entry = self._order(order_id)
        if entry.get("invoiceIds"):
            return f"Sapera sales order {entry.get('number')} is invoiced: credit it in Sapera"
        return (
            f"Sapera sales order {entry.get('number')} must be aborted in Sapera "
            f"(its API has no documented abort command)"
        )

    def _order(self, order_id: str) -> dict[str, Any]:
        """One order read back by its number (`numericIdentifier` is a documented filter; an
        id filter is not), then matched on its id."""
        sales_order_id, number = _split(order_id)
        bounds = wrap({"from": number, "to": number})
        for entry in self._page(self.paths.orders_page, {"numericIdentifier": bounds}):
            if str(entry.get("id")) == sales_order_id:
                return entry
        raise PermanentError(f"Sapera sales order {number} (id {sales_order_id}) not found")


def _ref(row: dict[str, Any], existed: bool) -> OrderRef:
    """Our handle on a sales order is `<id>:<number>`: the id the commands take, and the number
    the documented page filter finds it by."""
    number = text_or_none(row.get("number"))
    return OrderRef(id=f"{row['id']}:{number}", number=number, existed=existed)


def _split(order_id: str) -> tuple[str, int]:
    sales_order_id, _, number = order_id.partition(":")
    if not number.isdigit():
        raise PermanentError(f"not a Sapera sales order handle: {order_id!r} (id:number)")
    return sales_order_id, int(number)


def _same(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.casefold() == b.casefold()
