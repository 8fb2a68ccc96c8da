"""`Article/v2`: the articles order lines must point at (Duett takes no free-text product lines).

An article's name, price, VAT code and type are the defaults of every order line that uses it;
`articleNumber` is given or numbered automatically, unique, and can never change afterwards.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from simulators.duett.context import Ctx, Route
from simulators.duett.fields import choice, pick, read_object, read_patch, required
from simulators.duett.listing import list_response
from simulators.duett.patch import patch_entity
from simulators.duett.pricing import ARTICLE_TAX_CODES
from simulators.duett.problems import invalid, json_response, not_found

ARTICLE_TYPES = ("normal", "amount", "serial", "hour")
INVOICE_STATUSES = (
    "toBeInvoiced",
    "noInvoice",
    "later",
    "dontKnow",
    "transferred",
    "prepared",
    "approved",
    "rejected",
)
SCHEMA = {
    "articleNumber": "str",
    "articleType": "str",
    "name": "str",
    "salesPrice": "num",
    "description": "str",
    "ean": "str",
    "unit": "str",
    "invoiceStatus": "str",
    "taxSaleId": "str",
    "metadata": "any",
    "agriAccount": "int",
    "show": "bool",
}
READ_ONLY = ("id", "rowVersion")
FILTERABLE = {
    "id": "int",
    "articleNumber": "str",
    "articleType": "str",
    "name": "str",
    "salesPrice": "num",
    "ean": "str",
    "taxSaleId": "str",
    "show": "bool",
    "rowVersion": "int",
}


async def create(ctx: Ctx) -> Response:
    body = pick(await read_object(ctx.request), SCHEMA)
    article = _validated(body)
    number = body.get("articleNumber")
    if number is not None and ctx.store.article_by_number(number) is not None:
        raise invalid("articleNumber", f"The article number {number} is already in use.")
    article["articleNumber"] = number or ctx.store.auto_article_number()
    article["id"] = ctx.store.new_id("article")
    article["rowVersion"] = ctx.store.row_version()
    ctx.store.put_article(article)
    return json_response(article, 201)


async def list_all(ctx: Ctx) -> Response:
    return list_response(ctx, ctx.store.articles.values(), FILTERABLE)


async def get(ctx: Ctx) -> Response:
    return json_response(_find(ctx))


async def put(ctx: Ctx) -> Response:
    article = _find(ctx)
    _update(ctx, article, pick(await read_object(ctx.request), SCHEMA))
    return Response(status_code=204)


async def patch(ctx: Ctx) -> Response:
    article = _find(ctx)
    patched = patch_entity(article, await read_patch(ctx.request), READ_ONLY)
    _update(ctx, article, pick(patched, SCHEMA))
    return Response(status_code=204)


def _update(ctx: Ctx, article: dict[str, Any], body: dict[str, Any]) -> None:
    number = body.get("articleNumber")
    if number is not None and number != article["articleNumber"]:
        raise invalid("articleNumber", "articleNumber can not be changed.")
    updated = {
        **_validated(body),
        "id": article["id"],
        "articleNumber": article["articleNumber"],
        "rowVersion": ctx.store.row_version(),
    }
    ctx.store.put_article(updated)


def _find(ctx: Ctx) -> dict[str, Any]:
    article = ctx.store.articles.get(ctx.entity_id("Article"))
    if article is None:
        raise not_found(f"Article with id {ctx.params['id']} was not found.")
    return article


def _validated(body: dict[str, Any]) -> dict[str, Any]:
    required(body, "name")
    kind = choice("articleType", required(body, "articleType"), ARTICLE_TYPES)
    agri = body.get("agriAccount")
    if agri is not None and not 2 <= agri <= 8:
        raise invalid("agriAccount", "agriAccount must be 2-8, or null outside agriculture.")
    price = body.get("salesPrice")
    return {
        "id": None,
        "articleNumber": None,
        "articleType": kind,
        "name": body["name"],
        "salesPrice": float(price) if price is not None else 0.0,
        "description": body.get("description"),
        "ean": body.get("ean"),
        "unit": body.get("unit"),
        "invoiceStatus": choice("invoiceStatus", body.get("invoiceStatus"), INVOICE_STATUSES),
        "taxSaleId": choice("taxSaleId", body.get("taxSaleId"), ARTICLE_TAX_CODES) or "vat",
        "metadata": body.get("metadata"),
        "agriAccount": agri,
        "show": body.get("show", True) is not False,
        "rowVersion": None,
    }


def routes(path: str) -> list[Route]:
    return [
        ("GET", path, list_all),
        ("POST", path, create),
        ("GET", f"{path}/{{id}}", get),
        ("PUT", f"{path}/{{id}}", put),
        ("PATCH", f"{path}/{{id}}", patch),
    ]
