"""`Customer/v2`: customers as Duett keeps them (the v1 create model plus v2's payment and
invoice info): `externalId`, `address` and `contactInfo.name` required, the customer number
taken from a number series (`autoCustomerNumberFromSerieId`) unless given.

The v2 name of the organisation number is unconfirmed: it is `organizationNumber` here, and the
v1 name `vatNumber` is accepted as an alias in bodies and filters.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from simulators.duett.addresses import address
from simulators.duett.context import Ctx, Route
from simulators.duett.fields import choice, convert, pick, read_object, read_patch, required
from simulators.duett.listing import list_response
from simulators.duett.patch import patch_entity
from simulators.duett.problems import invalid, json_response, not_found
from simulators.duett.register import customer_interval

SEND_OPTIONS = ("autoTrans", "ehf", "eInvoice", "email", "print")
DISCOUNT_TYPES = ("percent", "amount")
SCHEMA = {
    "customerNumber": "str",
    "autoCustomerNumberFromSerieId": "int",
    "externalId": "str",
    "organizationNumber": "str",
    "vatNumber": "str",
    "bankAccountNumber": "str",
    "invoiceEmail": "str",
    "invoiceSendOption": "str",
    "address": "dict",
    "deliveryAddress": "dict",
    "contactInfo": "dict",
    "contactPerson": "any",
    "paymentInfo": "dict",
    "invoiceInfo": "dict",
    "groupAffiliations": "list",
    "show": "bool",
}
SUB_OBJECTS = ("address", "deliveryAddress", "contactInfo", "paymentInfo", "invoiceInfo")
CONTACT_SCHEMA = {"name": "str", "mobile": "str", "email": "str"}
PAYMENT_SCHEMA = {"payDays": "int", "discountType": "str"}
READ_ONLY = ("id", "rowVersion")
FILTERABLE = {
    "id": "int",
    "customerNumber": "str",
    "externalId": "str",
    "organizationNumber": "str",
    "invoiceEmail": "str",
    "invoiceSendOption": "str",
    "show": "bool",
    "rowVersion": "int",
}
ALIASES = {"vatNumber": "organizationNumber"}


async def create(ctx: Ctx) -> Response:
    body = pick(await read_object(ctx.request), SCHEMA)
    customer = _validated(ctx, body, None)
    customer["id"] = ctx.store.new_id("customer")
    customer["rowVersion"] = ctx.store.row_version()
    ctx.store.put_customer(customer)
    return json_response(customer, 201)


async def list_all(ctx: Ctx) -> Response:
    return list_response(ctx, ctx.store.customers.values(), FILTERABLE, ALIASES)


async def get(ctx: Ctx) -> Response:
    return json_response(_find(ctx))


async def put(ctx: Ctx) -> Response:
    """The whole model; a sub-object sent as null is left alone, one sent as {} is cleared."""
    customer = _find(ctx)
    body = pick(await read_object(ctx.request), SCHEMA)
    for name in SUB_OBJECTS:
        if body.get(name) is None:
            body[name] = customer[name]
        elif body[name] == {}:
            body[name] = None
    _store(ctx, customer, _validated(ctx, body, customer))
    return Response(status_code=204)


async def patch(ctx: Ctx) -> Response:
    customer = _find(ctx)
    patched = patch_entity(customer, await read_patch(ctx.request), READ_ONLY)
    _store(ctx, customer, _validated(ctx, pick(patched, SCHEMA), customer))
    return Response(status_code=204)


def _store(ctx: Ctx, previous: dict[str, Any], customer: dict[str, Any]) -> None:
    customer["id"] = previous["id"]
    customer["rowVersion"] = ctx.store.row_version()
    ctx.store.put_customer(customer)


def _find(ctx: Ctx) -> dict[str, Any]:
    customer = ctx.store.customers.get(ctx.entity_id("Customer"))
    if customer is None:
        raise not_found(f"Customer with id {ctx.params['id']} was not found.")
    return customer


def _validated(ctx: Ctx, body: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """The customer a create (previous None) or an update of `previous` makes of `body`."""
    required(body, "externalId")
    required(body, "address")
    contact = pick(
        convert("contactInfo", required(body, "contactInfo"), "dict"),
        CONTACT_SCHEMA,
        "contactInfo.",
    )
    required(contact, "name", "contactInfo.")
    org = _org_number(body, previous)
    send = choice("invoiceSendOption", body.get("invoiceSendOption"), SEND_OPTIONS) or "autoTrans"
    if send == "ehf" and not org:
        raise invalid("invoiceSendOption", "EHF needs the customer's organizationNumber.")
    payment = None
    if body.get("paymentInfo") is not None:
        payment = {
            "payDays": None,
            "discountType": None,
            **pick(body["paymentInfo"], PAYMENT_SCHEMA, "paymentInfo."),
        }
        payment["discountType"] = choice(
            "paymentInfo.discountType", payment["discountType"], DISCOUNT_TYPES
        )
    main = address("address", body["address"], ctx.options)
    delivery = body.get("deliveryAddress")
    if delivery is not None:
        delivery = address("deliveryAddress", delivery, ctx.options)
    number = _number(ctx, body, previous)  # last: a refused customer uses no number
    return {
        "id": None,
        "customerNumber": number,
        "externalId": body["externalId"],
        "organizationNumber": org,
        "bankAccountNumber": body.get("bankAccountNumber"),
        "invoiceEmail": body.get("invoiceEmail"),
        "invoiceSendOption": send,
        "address": main,
        "deliveryAddress": delivery,
        "contactInfo": {"name": None, "mobile": None, "email": None, **contact},
        "contactPerson": body.get("contactPerson"),
        "paymentInfo": payment,
        "invoiceInfo": body.get("invoiceInfo"),
        "groupAffiliations": body.get("groupAffiliations"),
        "show": body.get("show", True) is not False,
        "rowVersion": None,
    }


def _org_number(body: dict[str, Any], previous: dict[str, Any] | None) -> str | None:
    """`organizationNumber`, or its v1 alias `vatNumber` when that is the one that was set."""
    org, alias = body.get("organizationNumber"), body.get("vatNumber")
    unchanged = previous is not None and org == previous["organizationNumber"]
    return alias if alias is not None and (org is None or unchanged) else org


def _number(ctx: Ctx, body: dict[str, Any], previous: dict[str, Any] | None) -> str:
    number = body.get("customerNumber")
    if number is None and previous is not None:
        return str(previous["customerNumber"])
    if number is not None:
        taken = number in ctx.store.customer_numbers
        if taken and (previous is None or number != previous["customerNumber"]):
            raise invalid("customerNumber", f"The customer number {number} is already in use.")
        return str(number)
    serie = body.get("autoCustomerNumberFromSerieId")
    interval = customer_interval(serie)
    if interval is None:
        raise invalid(
            "autoCustomerNumberFromSerieId", f"No customer number series with id {serie}."
        )
    candidate = max(interval["fromNumber"], ctx.store.series_next.get(interval["id"], 0))
    while str(candidate) in ctx.store.customer_numbers:
        candidate += 1
    if candidate > interval["toNumber"]:
        raise invalid(
            "autoCustomerNumberFromSerieId", f"The customer number series {interval['id']} is full."
        )
    ctx.store.series_next[interval["id"]] = candidate + 1
    return str(candidate)


def routes(path: str) -> list[Route]:
    return [
        ("GET", path, list_all),
        ("POST", path, create),
        ("GET", f"{path}/{{id}}", get),
        ("PUT", f"{path}/{{id}}", put),
        ("PATCH", f"{path}/{{id}}", patch),
    ]
