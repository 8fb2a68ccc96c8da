"""Sapera's side of a dry run (`connectors.rehearsal`): which calls write, and what Sapera would
answer to each write, worked out from the tenant's data by reads.

Which calls write. Every Sapera call is a POST, its queries too, so the operation decides, not
the method: login and refresh write nothing of the shop's; the queries (the connection's read
paths, and any action named `Get...`) read; every other action is a command, which writes.

What Sapera would answer. CreateActor and CreateSalesOrder are checked as Sapera checks them;
for a sales order that means resolving each item's price, cost and VAT from the tenant's
products and accounts (`saleitems`), so the refusal the connector meets, and the dead letter
it would make, is Sapera's own. Success is shaped as Sapera's (`{"id", "number"}` in the
`errorOrValue` envelope), with made-up ids and numbers (`Counter`).

Documents made up here. Sapera does not know a made-up sales order or invoice, so the queries
`send_invoice` makes about them (GetSalesOrdersPage by the made-up number, GetInvoice by the
made-up id) are answered here from what was answered before, and are recorded with the writes:
they are the only queries a dry run does not send.

`amounts()` (decimal strings, VAT included unless named otherwise): per sale item, in the order
the items were sent, `items.N.sku` (the identifier sold), `.quantity`, `.price` and `.cost` (per
unit, as Sapera resolves them), `.discount` (the manual discount), `.amount`, `.net`, `.vat`;
for the sales order, `total`, `total_excl_vat` and `vat`, rounded per line as Sapera rounds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.rehearsal import Counter, Read, StandIn, json_answer
from connectors.sapera.saleitems import (
    ALREADY_EXISTS,
    METHOD_NOT_FOUND,
    NOT_EXISTS,
    Refusal,
    SaleItem,
    invalid,
    resolve,
)
from connectors.sapera.saleitems import field as given
from connectors.sapera.settings import SaperaSettings
from connectors.sapera.tenant import ReadFailed, Row, TenantReads

CUSTOMER_UPDATE = "SetSalesOrderCustomerDataModelUpdate"
ITEM_UPDATE = "CreateSalesOrderItemModelUpdate"
PERSON_ROLES = {"customerperson", "person"}
ORGANIZATION_ROLES = {"customerorganization", "organization"}
KNOWN_ROLES = {*PERSON_ROLES, *ORGANIZATION_ROLES, "customer", "user"}
STATUS = {NOT_EXISTS: 400, ALREADY_EXISTS: 400, METHOD_NOT_FOUND: 404}  # else 400 (Validation)
Handler = Callable[[Row, TenantReads], Any]


@dataclass
class SalesOrder:
    id: int
    number: int
    actor_id: int | None
    reference: str | None
    items: list[SaleItem]
    state: str = "Draft"
    invoice_ids: list[int] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((item.amount for item in self.items), Decimal(0))


@dataclass
class Invoice:
    id: int
    number: int
    order: SalesOrder | None  # None: a real sales order, whose total we did not work out
    booked: bool = False


def stand_in(settings: SaperaSettings) -> StandIn:
    """The registry's stand-in factory (one per dry run)."""
    if not isinstance(settings, SaperaSettings):
        raise TypeError(f"expected SaperaSettings, got {type(settings).__name__}")
    return SaperaStandIn(settings)


class SaperaStandIn:
    def __init__(self, settings: SaperaSettings) -> None:
        self.settings = settings
        p = settings.paths
        self._token_paths = {_path(settings, p.login), _path(settings, p.refresh)}
        self._read_paths = {
            _path(settings, path)
            for path in (p.actors_page, p.product_page, p.variant_infos, p.instances)
            + (p.financial_accounts, p.orders_page, p.get_invoice, p.invoices_page)
        }
        self._commands: dict[str, Handler] = {
            _path(settings, p.create_actor): self._create_actor,
            _path(settings, p.create_order): self._create_order,
            _path(settings, p.set_ready): self._set_ready,
            _path(settings, p.create_invoice): self._create_invoice,
            _path(settings, p.book_invoice): self._book_invoice,
        }
        self._orders_page = _path(settings, p.orders_page)
        self._get_invoice = _path(settings, p.get_invoice)
        self._new_id = Counter()
        self._actors: set[int] = set()
        self._orders: dict[int, SalesOrder] = {}
        self._invoices: dict[int, Invoice] = {}
        self._cache: dict[str, Any] = {}  # what TenantReads read once per dry run

    # --- the StandIn protocol -----------------------------------------------------------------
    def is_write(self, request: httpx.Request) -> bool:
        path = request.url.path.lower()
        if path in self._token_paths:
            return False
        if path in self._read_paths:
            return self._made_up(path, _body(request)) is not None
        if path in self._commands:
            return True
        return not path.rsplit("/", 1)[-1].startswith("get")

    def made_up_read(self, request: httpx.Request) -> bool:
        """A read of a sales order or invoice this dry run made up (claimed by `is_write`)."""
        path = request.url.path.lower()
        return path in self._read_paths and self._made_up(path, _body(request)) is not None

    def answer(self, request: httpx.Request, read: Read) -> httpx.Response:
        path = request.url.path.lower()
        action = request.url.path.rsplit("/", 1)[-1]
        reads = TenantReads(self.settings, read, request.headers.get("authorization"), self._cache)
        try:
            body = _body(request)
            if body is None:
                raise invalid("The request body must be a JSON object.")
            value = self._answer(path, body, reads)
        except Refusal as refusal:
            error = {"errorCode": refusal.code, "message": refusal.message}
            return json_answer(
                request,
                {
                    "modelType": f"Response<{action}Result>",
                    "errorOrValue": {"value": None, "error": error},
                },
                STATUS.get(refusal.code, 400),
            )
        except ReadFailed as failed:  # Sapera refused our read: the write meets the same
            kept = ("content-type", "retry-after")  # the body is decoded already
            headers = {k: v for k, v in failed.response.headers.items() if k.lower() in kept}
            return httpx.Response(
                failed.response.status_code,
                headers=headers,
                content=failed.response.content,
                request=request,
            )
        envelope = {"value": value, "error": None}
        return json_answer(
            request, {"modelType": f"Response<{action}Result>", "errorOrValue": envelope}
        )

    def amounts(self) -> dict[str, str]:
        items = [item for order in self._orders.values() for item in order.items]
        if not items:
            return {}
        out: dict[str, str] = {}
        for n, item in enumerate(items):
            line = {
                "sku": item.sku,
                "quantity": _number(item.quantity),
                "price": str(item.price),
                "cost": None if item.cost is None else str(item.cost),
                "discount": str(item.discount),
                "amount": str(item.amount),
                "net": str(item.net),
                "vat": str(item.vat),
            }
            out.update({f"items.{n}.{k}": v for k, v in line.items() if v is not None})
        total = sum((i.amount for i in items), Decimal(0))
        net = sum((i.net for i in items), Decimal(0))
        out.update(total=str(total), total_excl_vat=str(net), vat=str(total - net))
        return out

    # --- answers ------------------------------------------------------------------------------
    def _answer(self, path: str, body: Row, reads: TenantReads) -> Any:
        made_up = self._made_up(path, body)
        if isinstance(made_up, SalesOrder):
            offset = given(body, "offset") or 0
            return {
                "entries": [] if offset else [self._order_view(made_up)],
                "overallEntryCount": None,
            }
        if isinstance(made_up, Invoice):
            return self._invoice_view(made_up)
        handler = self._commands.get(path)
        if handler is None:
            raise Refusal(METHOD_NOT_FOUND, f"A dry run does not know what Sapera does on {path}.")
        return handler(body, reads)

    def _made_up(self, path: str, body: Row | None) -> SalesOrder | Invoice | None:
        """The made-up document a query asks about, if it does (see the module docstring)."""
        if body is None:
            return None
        if path == self._orders_page:
            bounds = given(body, "numericIdentifier")
            if isinstance(bounds, dict) and bounds.get("from") == bounds.get("to"):
                return next(
                    (o for o in self._orders.values() if o.number == bounds.get("from")), None
                )
        if path == self._get_invoice:
            return self._invoices.get(_id(body, "id"))
        return None

    def _create_actor(self, body: Row, reads: TenantReads) -> Row:
        _command(body, "CreateActorCommand")
        roles = [str(r).lower() for r in given(body, "roleNames") or []]
        if not roles:
            raise invalid("roleNames is required (roleIds are not supported here).")
        unknown = [r for r in roles if r not in KNOWN_ROLES]
        if unknown:
            raise invalid(f"Unknown role '{unknown[0]}'.")
        values: Row = {}
        for update in _updates(body):
            values.update({k.lower(): given(update, k) for k in update if k != "modelType"})
        organization = bool(ORGANIZATION_ROLES & set(roles)) or "organizationname" in values
        if organization and PERSON_ROLES & set(roles):
            raise invalid("An actor is either a person or an organization, not both.")
        if organization and not str(values.get("organizationname") or "").strip():
            raise invalid(
                "ChangeOrganizationFieldsetUpdate.organizationName is required for an organization."
            )
        names = (values.get("firstname"), values.get("lastname"))
        if not organization and not any(str(n or "").strip() for n in names):
            raise invalid(
                "A person needs a name: ChangePersonFieldsetUpdate.firstName or lastName."
            )
        actor_id = self._new_id()
        self._actors.add(actor_id)
        return {"id": actor_id}

    def _create_order(self, body: Row, reads: TenantReads) -> Row:
        _command(body, "CreateSalesOrderCommand")
        actor_id, reference, items = None, None, []
        for index, update in enumerate(_updates(body)):
            where = f"modelUpdates[{index}]."
            model_type = given(update, "modelType")
            if model_type == CUSTOMER_UPDATE:
                actor_id = self._actor(update, reads) or actor_id
                reference = given(update, self.settings.customer_reference_field) or reference
            elif model_type == ITEM_UPDATE:
                items.append(resolve(reads, update, where))
            elif not model_type:
                raise invalid(f"{where}modelType is required.")
            else:
                raise invalid(
                    f"{where}modelType {model_type} is not supported here; use "
                    f"{CUSTOMER_UPDATE} or {ITEM_UPDATE}."
                )
        order = SalesOrder(self._new_id(), self._new_id(), actor_id, reference, items)
        self._orders[order.id] = order
        return {"id": order.id, "number": order.number}

    def _actor(self, update: Row, reads: TenantReads) -> int | None:
        actor = given(update, "actor")
        if not isinstance(actor, dict):
            return None
        actor_id = given(actor, "actorId")
        if actor_id is None:
            raise invalid("actor.actorId is required.")
        if actor_id not in self._actors and not reads.actor_exists(actor_id):
            raise Refusal(NOT_EXISTS, f"Actor {actor_id} does not exist.")
        return int(actor_id)

    def _set_ready(self, body: Row, reads: TenantReads) -> Row:
        order = self._orders.get(_id(body, "id"))
        if order is None:  # a sales order in Sapera: the connector read its state itself
            return {"id": given(body, "id")}
        if order.state == "Draft":
            if not order.items:
                raise invalid(f"Sales order {order.number} has no items.")
            order.state = "Ready"
        elif order.state != "Ready":
            raise invalid(
                f"Sales order {order.number} is {order.state}; only a Draft order can be set ready."
            )
        return {"id": order.id, "number": order.number}

    def _create_invoice(self, body: Row, reads: TenantReads) -> Row:
        order = self._orders.get(_id(body, "salesOrderId"))
        if order is not None:
            if order.invoice_ids:
                raise Refusal(
                    ALREADY_EXISTS,
                    f"Sales order {order.number} is already fully invoiced "
                    f"(invoice ids {order.invoice_ids}).",
                )
            if order.state != "Ready":
                raise invalid(
                    f"Sales order {order.number} is {order.state}; only a Ready "
                    "order can be invoiced."
                )
            if order.actor_id is None:
                raise invalid(f"Sales order {order.number} has no customer to invoice.")
        invoice = Invoice(self._new_id(), self._new_id(), order)
        self._invoices[invoice.id] = invoice
        if order is not None:
            order.invoice_ids.append(invoice.id)
            order.state = "Invoiced"
        return {"id": invoice.id, "number": invoice.number}

    def _book_invoice(self, body: Row, reads: TenantReads) -> Row:
        invoice = self._invoices.get(_id(body, "id"))
        if invoice is None:  # an invoice in Sapera: the connector read that it is a draft
            return {"id": given(body, "id")}
        if invoice.booked:
            raise invalid(
                f"Invoice {invoice.number} is booked; a booked invoice can not be changed."
            )
        invoice.booked = True
        if invoice.order is not None:
            invoice.order.state = "Completed"
        return {"id": invoice.id, "number": invoice.number}

    def _order_view(self, order: SalesOrder) -> Row:
        return {
            "id": order.id,
            "number": order.number,
            "state": order.state,
            "actorId": order.actor_id,
            "invoiceIds": list(order.invoice_ids),
            "total": float(order.total),
            self.settings.customer_reference_field: order.reference,
        }

    def _invoice_view(self, invoice: Invoice) -> Row:
        order = invoice.order
        return {
            "id": invoice.id,
            "number": invoice.number,
            "salesOrderId": order.id if order else None,
            "salesOrderNumber": order.number if order else None,
            "isBooked": invoice.booked,
            "state": "Booked" if invoice.booked else "Draft",
            "total": float(order.total) if order else None,
            "currencyCode": self.settings.currency,
            self.settings.customer_reference_field: order.reference if order else None,
        }


def _command(body: Row, expected: str) -> None:
    model_type = given(body, "modelType")
    if model_type is not None and model_type != expected:
        raise invalid(f"modelType must be {expected}, not {model_type}.")


def _updates(body: Row) -> list[Row]:
    """The command's `modelUpdates`, each an object."""
    updates = given(body, "modelUpdates") or []
    if not isinstance(updates, list):
        raise invalid("modelUpdates must be an array.")
    for index, update in enumerate(updates):
        if not isinstance(update, dict):
            raise invalid(f"modelUpdates[{index}] must be an object.")
    return updates


def _path(settings: SaperaSettings, path: str) -> str:
    """The URL path a call to `path` goes to, as compared (Sapera's paths ignore case)."""
    return urlsplit(settings.url(path)).path.lower()


def _body(request: httpx.Request) -> Row | None:
    try:
        body = json.loads(request.content or b"{}")
    except (ValueError, httpx.RequestNotRead):
        return None
    return body if isinstance(body, dict) else None


def _id(body: Row, name: str) -> int:
    """An id field (0, which Sapera never gives, when it is missing or not a number)."""
    value = given(body, name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"
