"""The Duett Økonomi connector: customers, articles and orders (optionally invoiced at once),
credit notes (`credit`), and the invoice watch (`invoices`: what Duett can't say about payment,
and what we poll instead).

Duett's POST is not idempotent and it has no unique external reference, so exactly-once is ours:
before creating (and after any ambiguous failure) orders are searched by `orderReference`. Duett
computes every amount itself; the mapping predicts its arithmetic and refuses an order whose
amounts would differ from the shop's, and the answer is checked against the prediction.
Authentication is two static keys in headers, no token exchange.
"""

from __future__ import annotations

import base64
import binascii
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
from connectors.duett import credit, mapping
from connectors.duett.invoices import InvoiceWatch
from connectors.duett.settings import DuettSettings
from connectors.duett.unmapped import dropped
from connectors.errors import ErpHttpError, PermanentError, check
from connectors.http import segment
from schemas.dropped import Dropped
from schemas.order import Customer, Order, ProductLine

GIVEN_ON_ANOTHER_LINE = " (another line of the order gives serial numbers for it)"
INVOICED = {"invoiceSent", "invoiceBooked", "invoicePreBooked", "invoicePaymentProposal"}


class DuettConnector:
    def __init__(self, settings: DuettSettings, client: httpx.Client, store: TokenStore) -> None:
        self.settings = settings
        self.client = client
        self.paths = settings.paths
        self.headers = {
            "X-Api-Integration-Key": settings.integration_key.get_secret_value(),
            "X-Api-Client-Key": settings.client_key.get_secret_value(),
            "Accept": "application/json",
        }

    def consent(self) -> Consent | None:
        return None  # two static keys

    # --- plumbing -----------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.request(method, self.settings.url(path), headers=headers, **kwargs)

    def _list(self, path: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """A list GET: a bare array; a 404 on a list means no rows (second research pass)."""
        response = self._request("GET", path, params=params)
        if response.status_code == 404:
            return []
        rows = check(response).json()
        return rows if isinstance(rows, list) else []

    def _create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = check(self._request("POST", path, json=body)).json()
        return answer

    # --- customers ----------------------------------------------------------------------------
    def upsert_customer(self, customer: Customer, key: str) -> str:
        body = mapping.customer_body(customer, key, self.settings)
        found = self._find_customer(customer, key)
        if found is not None:
            return str(found["id"])
        return str(self._create(self.paths.customers, body)["id"])

    def _find_customer(self, customer: Customer, key: str) -> dict[str, Any] | None:
        if customer.kind == "company" and customer.org_number:
            field = self.settings.org_number_field
            rows = self._list(
                self.paths.customers,
                [(f"filter[{field}][EQ]", mapping.org_number(customer.org_number))],
            )
        else:
            rows = self._list(self.paths.customers, [("filter[externalId][EQ]", key)])
        return rows[0] if rows else None

    # --- articles -----------------------------------------------------------------------------
    def products_for(self, order: Order) -> list[ProductSpec]:
        return mapping.article_specs(order, self.settings)

    def upsert_products(self, specs: list[ProductSpec]) -> dict[str, str]:
        found: dict[str, dict[str, Any]] = {}
        size = self.settings.article_batch_size
        for start in range(0, len(specs), size):
            batch = specs[start : start + size]
            rows = self._list(
                self.paths.articles,
                [
                    *[("filter[articleNumber][IN]", s.sku) for s in batch],
                    ("filter[take]", str(len(batch))),
                ],
            )
            found.update({str(r["articleNumber"]): r for r in rows})
        ids: dict[str, str] = {}
        for spec in specs:
            row = found.get(spec.sku)
            if row is not None:
                mapping.check_article_type(row, spec)
                ids[spec.sku] = str(row["id"])
            else:
                body = mapping.article_body(spec, self.settings)
                ids[spec.sku] = str(self._create(self.paths.articles, body)["id"])
        return ids

    # --- orders -------------------------------------------------------------------------------
    def unmapped(self, order: Order, reference: str) -> list[Dropped]:
        return dropped(order)  # text lines and serial numbers reach Duett; see `unmapped`

    def check_order(self, order: Order) -> list[tuple[str, str]]:
        """Serial articles need one serial number per unit (Duett refuses them otherwise): the
        SKUs the connection lists in `serial_skus`, and those the order itself gives serial
        numbers for on another line. Only Duett keeps serial numbers, so only here does their
        count have to match the quantity."""
        serial = mapping.serial_skus(order, self.settings)
        refused: list[tuple[str, str]] = []
        for i, line in enumerate(order.lines):
            if not isinstance(line, ProductLine) or line.sku not in serial:
                continue
            field = f"lines.{i}.serial_numbers"
            if not line.serial_numbers:
                refused.append(
                    (
                        field,
                        f"{line.sku} is a serial article: give one serial number per unit "
                        f"({line.quantity})"
                        + ("" if line.sku in self.settings.serial_skus else GIVEN_ON_ANOTHER_LINE),
                    )
                )
            elif len(line.serial_numbers) != line.quantity:
                refused.append(
                    (
                        field,
                        f"{len(line.serial_numbers)} given for quantity {line.quantity}: "
                        f"{line.sku} is a serial article in Duett, one serial number per unit",
                    )
                )
        return refused

    def find_order(self, reference: str, since: datetime | None) -> OrderRef | None:
        if self.settings.order_reference_filterable:
            rows = self._list(self.paths.orders, [("filter[orderReference][EQ]", reference)])
        else:
            rows = self._list(
                self.paths.orders,
                [
                    ("filter[orderby][desc]", "id"),
                    ("filter[take]", str(self.settings.recent_orders_scanned)),
                ],
            )
        for row in rows:
            if row.get("orderReference") == reference:
                return _ref(row, existed=True)
        return None

    def create_order(
        self,
        order: Order,
        reference: str,
        customer_id: str,
        product_ids: dict[str, str] | None = None,
    ) -> OrderRef:
        self._refuse_problems(order)
        return self._post_order(
            order,
            mapping.order_payload(order, reference, customer_id, product_ids or {}, self.settings),
        )

    def create_credit_note(
        self,
        order: Order,
        reference: str,
        customer_id: str,
        product_ids: dict[str, str] | None,
        original: CreditSource,
    ) -> OrderRef:
        """An order of type credit, invoiced at once when the order asks for it; the sign of
        its lines is unconfirmed, so a refusal of the first sign is answered with the other."""
        self._refuse_problems(order)

        def post(sign: credit.Sign) -> OrderRef:
            payload = credit.credit_payload(
                order, reference, customer_id, product_ids or {}, original, self.settings, sign
            )
            return self._post_order(order, payload, sign=1 if sign == "positive" else -1)

        sign = self.settings.credit_line_sign
        try:
            return post(sign)
        except ErpHttpError as exc:
            if not credit.sign_refused(exc.response):
                raise
        return post(credit.other(sign))  # a refusal created nothing: once with the other sign

    def _refuse_problems(self, order: Order) -> None:
        problems = self.check_order(order)
        if problems:
            raise PermanentError("; ".join(f"{field}: {message}" for field, message in problems))

    def _post_order(self, order: Order, payload: mapping.OrderPayload, sign: int = 1) -> OrderRef:
        """Check the predicted amounts, create the order, and check Duett's against them
        (`sign` -1: the lines went with negative counts)."""
        mapping.check_before_posting(order, payload.planned, self.settings.price_mode)
        answer = self._create(self.paths.orders, payload.body)
        ref = _ref(answer, existed=False)
        mapping.check_after_posting(answer, payload.planned, ref.id, sign=sign)
        return ref

    def invoices_since(self, cursor: Mapping[str, str]) -> InvoicePage:
        return InvoiceWatch(self.settings, self._list).page(cursor)

    def send_invoice(self, order_id: str, email: str | None) -> None:
        """Invoicing happens at create (direct invoicing). An order created without it is set
        ready for invoicing; Duett's own invoice run takes it from there."""
        row = self._get_order(order_id)
        if row.get("invoiceNumber") or row.get("status") in INVOICED | {"orderReadyToSend"}:
            return
        patch = [{"op": "replace", "path": "/status", "value": "orderReadyToSend"}]
        check(
            self._request(
                "PATCH",
                f"{self.paths.orders}/{segment(order_id)}",
                json=patch,
                headers={"Content-Type": "application/json-patch+json"},
            )
        )

    def invoice_state(self, order_id: str) -> InvoiceState:
        row = self._get_order(order_id)
        number = row.get("invoiceNumber")
        if number or row.get("status") in INVOICED | {"orderReadyToSend"}:
            return InvoiceState(
                "sent",
                invoice_number=str(number) if number else None,
                message=None if number else "ready for Duett's invoice run",
            )
        return InvoiceState("not_requested")

    def cancel_order(self, order_id: str) -> str:
        row = self._get_order(order_id)
        if row.get("invoiceNumber"):
            return (
                f"Duett order {order_id} is already invoiced as {row['invoiceNumber']}: "
                f"credit it in Duett"
            )
        response = self._request("DELETE", f"{self.paths.orders}/{segment(order_id)}")
        if response.status_code == 404:
            return f"Duett order {order_id} no longer exists"
        check(response)
        return f"Duett order {order_id} deleted"

    def _get_order(self, order_id: str) -> dict[str, Any]:
        path = f"{self.paths.orders}/{segment(order_id)}"
        row: dict[str, Any] = check(self._request("GET", path)).json()
        return row


def _ref(row: dict[str, Any], existed: bool) -> OrderRef:
    """Duett's order numbers restart every year: the number is shown with its year."""
    number, year = row.get("number"), row.get("invoiceYear")
    invoice = row.get("invoiceNumber")
    shown = None if number is None else f"{number}/{year}" if year else str(number)
    return OrderRef(
        id=str(row["id"]),
        number=shown,
        existed=existed,
        invoice_number=str(invoice) if invoice else None,
        document=_pdf(row.get("attachment")),
    )


def _pdf(attachment: Any) -> bytes | None:
    """The invoice PDF of a direct-invoicing answer (base64 in `attachment.value`)."""
    if not isinstance(attachment, dict) or not attachment.get("value"):
        return None
    try:
        data = base64.b64decode(str(attachment["value"]), validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if data.startswith(b"%PDF") else None
