"""PowerOffice Go's side of a dry run (`connectors.rehearsal`): every write the connector makes is
answered as Go would answer it, and nothing reaches Go but reads.

Writes are every request but GET/HEAD/OPTIONS, except the token request (it changes nothing of
the client's). Go's refusals that depend on its data are decided by reading it: an article's
sales account must be one of Go's income accounts (`GET /GeneralLedgerAccounts`; an account Go
does not have, such as 3040 for a VAT rate of 11 %, is refused with Go's 400 "... is not a sales
account"), a customer's or order's ExternalImportReference must be free, the order's customer
and articles must exist. A success carries made-up ids (`Counter`; sales orders get uuids ending
in the counter) and no numbers Go would assign (customer number, SalesOrderNo): those Go gives
only when it really makes the object. What the run "created" is remembered, so the sales order
can name a customer and articles Go does not know.

`amounts()` gives {"total_excl_vat", "vat", "total"} of the sales orders answered, computed as
Go computes them (`amounts`): VAT from the rate of the VAT code on each article's sales account,
read from Go; without "vat" and "total" when an article has no account of its own.

Not predicted: Go's type errors for malformed bodies (the connector's are well-formed), the
uniqueness of product codes (unconfirmed in Go; the connector creates only codes it just looked
up and did not find), and writes outside a dry run's steps (cancel, credit-note patches), for
which the stand-in raises.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import unquote

import httpx

from connectors.poweroffice import rules
from connectors.poweroffice.amounts import Totals
from connectors.poweroffice.lookups import Lookups, Memo, ReadFailed
from connectors.poweroffice.sales_order_answer import Made, answer_order
from connectors.poweroffice.settings import PowerOfficeSettings
from connectors.rehearsal import Counter, Read, StandIn, json_answer

READS = frozenset({"GET", "HEAD", "OPTIONS"})
PASSED_READ_HEADERS = ("Content-Type", "Retry-After", "WWW-Authenticate")


def stand_in(settings: PowerOfficeSettings) -> StandIn:
    """The registry's stand-in factory: one per dry run."""
    return PowerOfficeStandIn(settings)


class PowerOfficeStandIn:
    def __init__(self, settings: PowerOfficeSettings) -> None:
        self.base_url = settings.base_url.rstrip("/")
        self._base_path = httpx.URL(self.base_url).path.rstrip("/").lower()
        self._token_path = httpx.URL(settings.token_url).path.rstrip("/").lower()
        self._ids = Counter()
        self._memo = Memo()
        self._made = Made()
        self._orders: dict[str, Totals] = {}
        self._guard = threading.Lock()

    def is_write(self, request: httpx.Request) -> bool:
        if request.method in READS:
            return False
        return request.url.path.rstrip("/").lower() != self._token_path

    def answer(self, request: httpx.Request, read: Read) -> httpx.Response:
        lookups = Lookups(read, request, self.base_url, self._memo)
        try:
            with self._guard:
                return self._route(request, lookups)
        except rules.Refused as refused:
            return rules.problem(request, refused)
        except ReadFailed as failed:
            return _as_answer(request, failed.response)

    def amounts(self) -> dict[str, str]:
        with self._guard:
            totals = list(self._orders.values())
        if not totals:
            return {}
        total = totals[0]
        for more in totals[1:]:
            total = total + more
        return total.as_strings()

    # --- routing ------------------------------------------------------------------------------
    def _route(self, request: httpx.Request, lookups: Lookups) -> httpx.Response:
        path = request.url.path.rstrip("/")
        rest = path[len(self._base_path) :] if path.lower().startswith(self._base_path) else ""
        parts = [unquote(part) for part in rest.strip("/").split("/")]
        route = (request.method, *(part.lower() for part in parts))
        if route == ("POST", "customers"):
            return self._create_customer(request, lookups)
        if route[:2] == ("PATCH", "customers") and len(parts) == 2:
            return self._patch_customer(request, parts[1], lookups)
        if route == ("POST", "products"):
            return self._create_product(request, lookups)
        if route == ("POST", "salesorders", "complete"):
            order, totals = answer_order(
                _object(request, "SalesOrder"), self._made, lookups, self._uuid
            )
            self._orders[order["Id"]] = totals
            return json_answer(request, order, 201)
        if route[:2] == ("POST", "salesorders") and route[3:] == ("createandsendinvoice",):
            return self._send(request, parts[1], lookups)
        raise ValueError(f"a PowerOffice dry run has no answer for {request.method} {path}")

    def _uuid(self) -> str:
        return f"00000000-0000-4000-8000-{self._ids():012d}"

    # --- customers ----------------------------------------------------------------------------
    def _create_customer(self, request: httpx.Request, lookups: Lookups) -> httpx.Response:
        customer: dict[str, Any] = {
            "IsPerson": False,
            "IsArchived": False,
            "IsVatFree": False,
            "CurrencyCode": "NOK",
            **_object(request, "Customer"),
        }
        self._check_customer(customer, None, lookups)
        customer.update(Id=self._ids(), Number=customer.get("Number"), IsActive=True)
        self._made.customers[customer["Id"]] = customer
        return json_answer(request, customer, 201)

    def _patch_customer(
        self, request: httpx.Request, raw_id: str, lookups: Lookups
    ) -> httpx.Response:
        if not raw_id.isdigit():
            raise rules.Refused(
                400, "Unable to cast object(s)", f"The value '{raw_id}' is not a valid Id."
            )
        current = self._made.customers.get(int(raw_id)) or lookups.customer(raw_id)
        if current is None:
            raise rules.not_found(f"Customer with id = {raw_id} not found.")
        patched = _patched(current, _decoded(request))
        if patched.get("Number") is None and current.get("Number") is not None:
            raise rules.invalid("Customer", "Number is required.")
        self._check_customer(patched, current, lookups)
        return json_answer(request, patched)

    def _check_customer(
        self, customer: dict[str, Any], current: dict[str, Any] | None, lookups: Lookups
    ) -> None:
        """Go's order: names, delivery type, uniqueness, then the address."""
        if customer.get("IsPerson"):
            customer["Name"] = customer.get("Name") or rules.person_name(customer)
        rules.check_customer(customer)
        for key, find in (
            ("ExternalImportReference", lookups.customer_by_reference),
            ("ExternalNumber", lookups.customer_by_external_number),
        ):
            value = customer.get(key)
            if value is None or (current is not None and current.get(key) == value):
                continue
            owner = find(value)
            if owner is not None and owner.get("Id") != customer.get("Id"):
                raise rules.invalid(
                    "Customer",
                    f"{key} is already in use. '{value}' is used on (contact) Id = {owner['Id']}.",
                )
        number = customer.get("Number")
        if number is not None and (current is None or current.get("Number") != number):
            owner = lookups.customer_by_number(int(number))
            if owner is not None and owner.get("Id") != customer.get("Id"):
                raise rules.invalid("Customer", f"Number {number} is already in use.")
        rules.check_address(customer.get("MailAddress"))

    # --- products -----------------------------------------------------------------------------
    def _create_product(self, request: httpx.Request, lookups: Lookups) -> httpx.Response:
        product: dict[str, Any] = {
            "ProductType": "Product",
            "IsArchived": False,
            **_object(request, "Product"),
        }
        rules.check_product(product)
        account = _sales_account(product, lookups)
        product["Id"] = self._ids()
        if account is not None:
            product.update(
                StandardSalesAccountId=account.get("Id"),
                StandardSalesAccount=account.get("AccountNo"),
            )
        self._made.products[product["Id"]] = product
        return json_answer(request, product, 200)

    # --- sending ------------------------------------------------------------------------------
    def _send(self, request: httpx.Request, order_id: str, lookups: Lookups) -> httpx.Response:
        if lookups.send_privilege_missing():
            raise rules.no_send_privilege()
        if order_id not in self._orders:
            _check_sendable(order_id, lookups)
        body = rules.check_send(_decoded(request))
        location = f"{self.base_url}/SalesOrders/sentState?id={order_id}"
        return httpx.Response(
            202, json={"Id": order_id, **body}, headers={"Location": location}, request=request
        )


def _check_sendable(order_id: str, lookups: Lookups) -> None:
    """Go's refusals to send an order it holds: sent already (it is an invoice now), not
    there, or being sent."""
    if lookups.outgoing_invoice(order_id) is not None:
        raise rules.invalid("SalesOrder", f"The sales order with id = {order_id} is already sent.")
    if lookups.sales_order(order_id) is None:
        raise rules.not_found(f"SalesOrder with id = {order_id} not found.")
    if lookups.being_sent(order_id):
        raise rules.invalid(
            "SalesOrder", f"The sales order with id = {order_id} is already being sent."
        )


def _sales_account(product: dict[str, Any], lookups: Lookups) -> dict[str, Any] | None:
    """The Id wins over the number; the number must be one of Go's income accounts. Without
    either, Go takes the group's or the client's default account (not read here)."""
    account_id, account_no = (
        product.get("StandardSalesAccountId"),
        product.get("StandardSalesAccount"),
    )
    if account_id is not None:
        found = lookups.account_by_id(int(account_id))
        if found is None:
            raise rules.invalid(
                "Product", f"General ledger account with id = {account_id} not found."
            )
        return found
    if account_no is None:
        return None
    found = lookups.sales_account(int(account_no))
    if found is None or found.get("GeneralLedgerAccountType") not in (None, "Income"):
        raise rules.not_a_sales_account(account_no)
    return found


def _decoded(request: httpx.Request) -> Any:
    if not request.content.strip():
        return None
    try:
        return json.loads(request.content)
    except ValueError:
        raise rules.Refused(400, "Bad Request", "The request body is not valid JSON.") from None


def _object(request: httpx.Request, entity: str) -> dict[str, Any]:
    body = _decoded(request)
    if not isinstance(body, dict):
        raise rules.invalid(entity, "The request body must be a JSON object.")
    return body


def _patched(current: dict[str, Any], ops: Any) -> dict[str, Any]:
    """RFC 6902 replace/add/remove on a field or one level below (`/MailAddress/City`)."""
    patched = json.loads(json.dumps(current))
    for op in ops if isinstance(ops, list) else []:
        keys = str(op.get("path", "")).strip("/").split("/")
        target = patched
        for key in keys[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[keys[-1]] = None if op.get("op") == "remove" else op.get("value")
    return dict(patched)


def _as_answer(request: httpx.Request, read: httpx.Response) -> httpx.Response:
    """A refused read's answer given to the write (its body already decoded)."""
    headers = {k: read.headers[k] for k in PASSED_READ_HEADERS if k in read.headers}
    return httpx.Response(read.status_code, headers=headers, content=read.content, request=request)
