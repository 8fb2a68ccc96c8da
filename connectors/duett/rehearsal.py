"""Duett's side of a dry run (`connectors.rehearsal`): every POST, PUT, PATCH and DELETE is
answered here instead of by Duett, the way Duett would answer it.

- A customer: Duett checks a Norwegian `zipCodeKey` against its postcode register (postcodes
  cannot be added), so the register is read (`paths.zip_codes`) and an unknown postcode gets
  Duett's own refusal, "The postcode {0} is not in Duett"; a number series named by id is looked
  up in the account intervals. The answer is the customer as Duett keeps it, with a made-up id
  (its customer number, unless given, is Duett's to give from its series: null).
- An article: created with the type the connector asks for (serial for serial lines), refused
  when its number is taken.
- An order: `rehearsal_orders` checks it against the customers and articles it names (the
  dry run's own, or Duett's, read by id) and computes its amounts in the company's price mode
  (`settings.price_mode`), as Duett would; `amounts()` sums them:
  `total_excl_vat` (Duett's netAmount), `vat` (vatAmount) and `total` (grossAmount).
- PUT and PATCH answer 204 without a body and DELETE 200, as Duett does.

Duett has no token exchange: every request but GET, HEAD and OPTIONS writes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from connectors.duett.amounts import cents
from connectors.duett.refusals import Refused, choice, invalid, problem_answer, required
from connectors.duett.rehearsal_orders import TAX_RATES, Totals, order_answer
from connectors.duett.settings import DuettSettings
from connectors.errors import SAFE_METHODS
from connectors.rehearsal import Counter, Read, StandIn, decoded, json_answer

# Documented (erp/duett.md, "Route naming"), so not a setting of the connector.
ACCOUNT_INTERVALS = "Register/v2/AccountIntervals"
NORWAY = "Norge"
NORWAY_NAMES = ("norge", "norway", "noreg")
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
KEY_HEADERS = ("X-Api-Integration-Key", "X-Api-Client-Key", "Accept")


def stand_in(settings: DuettSettings) -> StandIn:
    """The registry's factory: one stand-in per dry run."""
    if not isinstance(settings, DuettSettings):
        raise TypeError(f"expected DuettSettings, got {type(settings).__name__}")
    return DuettStandIn(settings)


class ReadFailed(Exception):
    """A read the answer depends on failed: the write is answered with that failure."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class DuettStandIn:
    """One dry run's Duett: it remembers the customers and articles it answered, so that the
    order naming their made-up ids is checked and computed as Duett would."""

    def __init__(self, settings: DuettSettings) -> None:
        self.settings = settings
        self.new_id = Counter()
        self._customers: dict[int, dict[str, Any]] = {}
        self._articles: dict[int, dict[str, Any]] = {}
        self._totals: Totals | None = None

    def is_write(self, request: httpx.Request) -> bool:
        return request.method.upper() not in SAFE_METHODS

    def answer(self, request: httpx.Request, read: Read) -> httpx.Response:
        try:
            return self._answer(request, _Reader(self.settings, request, read))
        except Refused as refused:
            return problem_answer(request, refused)
        except ReadFailed as failed:
            return httpx.Response(
                failed.response.status_code,
                headers={"Content-Type": failed.response.headers.get("Content-Type", "")},
                content=failed.response.content,
                request=request,
            )

    def amounts(self) -> dict[str, str]:
        if self._totals is None:
            return {}
        totals = self._totals
        return {
            "total_excl_vat": str(cents(totals.net)),
            "vat": str(cents(totals.vat)),
            "total": str(cents(totals.gross)),
        }

    # --- routing ------------------------------------------------------------------------------
    def _answer(self, request: httpx.Request, reader: _Reader) -> httpx.Response:
        method = request.method.upper()
        collection, entity_id = self._route(request.url.path)
        if method in ("PUT", "PATCH") and collection and entity_id:
            return httpx.Response(204, request=request)
        if method == "DELETE" and collection and entity_id:
            return httpx.Response(200, request=request)
        if collection is None:
            raise Refused("Not Found", status=404)
        if method != "POST" or entity_id is not None:
            raise Refused("Method Not Allowed", status=405)
        body = _object(request)
        if collection == "customers":
            made = self._customer(body, reader)
        elif collection == "articles":
            made = self._article(body, reader)
        else:
            made = self._order(body, reader)
        return json_answer(request, made, 201)

    def _route(self, path: str) -> tuple[str | None, str | None]:
        """Which collection `path` is (customers, articles, orders) and the entity id in it.
        Duett matches paths case-insensitively, like ASP.NET."""
        wanted = path.rstrip("/").lower()
        paths = self.settings.paths
        for name, route in (
            ("customers", paths.customers),
            ("articles", paths.articles),
            ("orders", paths.orders),
        ):
            base = httpx.URL(self.settings.url(route)).path.rstrip("/").lower()
            if wanted == base:
                return name, None
            rest = wanted.removeprefix(base + "/")
            if rest != wanted and rest and "/" not in rest:
                return name, rest
        return None, None

    # --- customers ----------------------------------------------------------------------------
    def _customer(self, body: dict[str, Any], reader: _Reader) -> dict[str, Any]:
        required(body, "externalId")
        required(body, "address")
        contact = body.get("contactInfo")
        required(body, "contactInfo")
        if not isinstance(contact, dict):
            raise invalid("contactInfo", _not_converted("contactInfo", "System.Object"))
        required(contact, "name", "contactInfo.")
        main = self._address("address", body["address"], reader)
        delivery = body.get("deliveryAddress")
        if delivery is not None:
            delivery = self._address("deliveryAddress", delivery, reader)
        serie = body.get("autoCustomerNumberFromSerieId")
        if serie is not None and not reader.rows(
            ACCOUNT_INTERVALS,
            [("filter[id][EQ]", str(serie)), ("filter[accountType][EQ]", "customer")],
        ):
            raise invalid(
                "autoCustomerNumberFromSerieId", f"No customer number series with id {serie}."
            )
        org_field = self.settings.org_number_field
        customer = {
            "id": self.new_id(),
            "customerNumber": body.get("customerNumber"),  # given, or Duett's from the series
            "externalId": body["externalId"],
            "organizationNumber": body.get(org_field) or body.get("organizationNumber"),
            "bankAccountNumber": body.get("bankAccountNumber"),
            "invoiceEmail": body.get("invoiceEmail"),
            "invoiceSendOption": body.get("invoiceSendOption") or "autoTrans",
            "address": main,
            "deliveryAddress": delivery,
            "contactInfo": {"name": None, "mobile": None, "email": None, **contact},
            "contactPerson": body.get("contactPerson"),
            "paymentInfo": body.get("paymentInfo"),
            "invoiceInfo": body.get("invoiceInfo"),
            "groupAffiliations": body.get("groupAffiliations"),
            "show": body.get("show", True) is not False,
            "rowVersion": self.new_id(),
        }
        self._customers[customer["id"]] = customer
        return customer

    def _address(self, field: str, raw: Any, reader: _Reader) -> dict[str, Any]:
        """Duett's address rules (erp/duett.md, "Address v2"), the postcode read from its
        register."""
        if not isinstance(raw, dict):
            raise invalid(field, _not_converted(field, "System.Object"))
        prefix = f"{field}."
        required(raw, "address1", prefix)
        country = str(raw.get("country") or "").strip() or None
        if country is not None and len(country) <= 3 and country.isupper():
            raise invalid(
                f"{prefix}country",
                f"{prefix}country must be a country name such as 'Sverige', not the code "
                f"'{country}'.",
            )
        foreign = raw.get("isForeign") is True or (
            country is not None and country.lower() not in NORWAY_NAMES
        )
        postcode = str(raw.get("zipCodeKey") or "").strip() or None
        place = None
        if foreign:
            if country is None or country.lower() in NORWAY_NAMES:
                raise invalid(
                    f"{prefix}country",
                    f"The {prefix}country field is required for an address abroad (a country "
                    f"name).",
                )
            if postcode is not None:
                raise invalid(
                    f"{prefix}zipCodeKey", f"{prefix}zipCodeKey must be null for an address abroad."
                )
        else:
            required({"zipCodeKey": postcode}, "zipCodeKey", prefix)
            place = self._place(str(postcode), reader)
            if place is None:
                raise invalid(f"{prefix}zipCodeKey", f"The postcode {postcode} is not in Duett")
            country = country or NORWAY
        return {
            "address1": raw["address1"],
            "address2": raw.get("address2"),
            "address3": raw.get("address3"),
            "zipCodeKey": postcode,
            "zipCodeName": place,
            "isForeign": foreign,
            "country": country,
        }

    def _place(self, postcode: str, reader: _Reader) -> str | None:
        """The postcode's place in Duett's register, None when the register lacks it."""
        rows = reader.rows(self.settings.paths.zip_codes, [("filter[zipCodeKey][EQ]", postcode)])
        found = [r for r in rows if str(r.get("zipCodeKey")) == postcode]
        return str(found[0].get("zipCodeName") or "") if found else None

    # --- articles -----------------------------------------------------------------------------
    def _article(self, body: dict[str, Any], reader: _Reader) -> dict[str, Any]:
        required(body, "name")
        kind = choice("articleType", required(body, "articleType"), ARTICLE_TYPES)
        number = body.get("articleNumber")
        if number is not None and self._number_taken(str(number), reader):
            raise invalid("articleNumber", f"The article number {number} is already in use.")
        price = body.get("salesPrice")
        article = {
            "id": self.new_id(),
            "articleNumber": None if number is None else str(number),  # Duett's when absent
            "articleType": kind,
            "name": body["name"],
            "salesPrice": float(Decimal(str(price))) if price is not None else 0.0,
            "description": body.get("description"),
            "ean": body.get("ean"),
            "unit": body.get("unit"),
            "invoiceStatus": choice("invoiceStatus", body.get("invoiceStatus"), INVOICE_STATUSES),
            "taxSaleId": choice("taxSaleId", body.get("taxSaleId"), tuple(TAX_RATES)) or "vat",
            "metadata": body.get("metadata"),
            "agriAccount": body.get("agriAccount"),
            "show": body.get("show", True) is not False,
            "rowVersion": self.new_id(),
        }
        self._articles[article["id"]] = article
        return article

    def _number_taken(self, number: str, reader: _Reader) -> bool:
        ours = any(
            str(a["articleNumber"]).lower() == number.lower() for a in self._articles.values()
        )
        return ours or bool(
            reader.rows(self.settings.paths.articles, [("filter[articleNumber][EQ]", number)])
        )

    # --- orders -------------------------------------------------------------------------------
    def _order(self, body: dict[str, Any], reader: _Reader) -> dict[str, Any]:
        known = _Known(self._customers, self._articles, self.settings, reader)
        order, totals = order_answer(body, known, self.settings.price_mode, self.new_id)
        self._totals = totals if self._totals is None else self._totals + totals
        return order


class _Known:
    """The customers and articles an order may name: made up in this dry run, or Duett's."""

    def __init__(
        self,
        customers: dict[int, dict[str, Any]],
        articles: dict[int, dict[str, Any]],
        settings: DuettSettings,
        reader: _Reader,
    ) -> None:
        self.customers, self.articles = customers, articles
        self.paths, self.reader = settings.paths, reader

    def customer(self, customer_id: int) -> dict[str, Any] | None:
        made = self.customers.get(customer_id)
        return made or self.reader.one(self.paths.customers, customer_id)

    def article(self, article_id: int) -> dict[str, Any] | None:
        made = self.articles.get(article_id)
        return made or self.reader.one(self.paths.articles, article_id)


class _Reader:
    """Reads from Duett for the answer to one write, with the keys that write carries."""

    def __init__(self, settings: DuettSettings, write: httpx.Request, read: Read) -> None:
        self.settings, self.read = settings, read
        self.headers = {h: write.headers[h] for h in KEY_HEADERS if h in write.headers}

    def _get(self, path: str, params: list[tuple[str, str]] | None = None) -> httpx.Response:
        request = httpx.Request(
            "GET", self.settings.url(path), params=tuple(params or ()), headers=self.headers
        )
        response = self.read(request)
        if response.status_code != 404 and not response.is_success:
            raise ReadFailed(response)
        return response

    def rows(self, path: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """A list GET; a 404 on a list means no rows, as in the connector."""
        response = self._get(path, params)
        rows = decoded(response.content) if response.is_success else []
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    def one(self, path: str, entity_id: int) -> dict[str, Any] | None:
        response = self._get(f"{path.rstrip('/')}/{entity_id}")
        row = decoded(response.content) if response.is_success else None
        return row if isinstance(row, dict) else None


def _object(request: httpx.Request) -> dict[str, Any]:
    body = decoded(request.content)
    if not isinstance(body, dict):
        raise Refused("The request body must be a JSON object.")
    return body


def _not_converted(field: str, kind: str) -> str:
    return f"The JSON value could not be converted to {kind}. Path: $.{field}"
