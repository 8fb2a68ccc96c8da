"""Exact Online's side of a dry run (`connectors.rehearsal`): every POST, PUT and DELETE of the
REST API is answered as Exact would answer it, without reaching Exact; the token endpoint is
not a write (a refresh changes nothing of the company's) and passes through.

A create is answered 201 with the entity (`{"d": {...}}`, as with `Prefer:
return=representation`): what was sent, plus what Exact sets itself: made-up GUIDs (recognisable:
`00000000-0000-4000-8000-000900000001`), made-up numbers for OrderNumber and EntryNumber (an
invoice has no InvoiceNumber until it is processed), status, priced lines and totals. Or it is
refused with Exact's own error body and text, decided by `checks` from reads (`lookups`):
unknown VAT code, journal that is not a sales journal, unknown warehouse, item or G/L account,
missing mandatory fields. PUT and DELETE answer 204, except that Exact keeps a processed
invoice or booked entry (its "processed" refusal) and has no row it never had (404). What the
run "created" is remembered, since Exact itself would never find it.

`amounts()` sums the sales documents answered (credit notes negative): `total_excl_vat`,
`vat` and `total` (including VAT), as Exact computes them, in the division's currency.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.exact.checks import Booked, Checks, money
from connectors.exact.lookups import Lookups, ReadFailed
from connectors.exact.refusal import REQUEST_STREAM, Refused, bad_reference, error_body
from connectors.exact.refusal import mandatory as mandatory_fields
from connectors.exact.settings import ExactSettings
from connectors.rehearsal import Counter, Read, StandIn, json_answer

Row = dict[str, Any]
READS = ("GET", "HEAD", "OPTIONS")
TOKEN_PATH = "/api/oauth2/token"
ACCOUNT_CODE_WIDTH = 18
OPEN_ORDER, OPEN_INVOICE, OPEN_ENTRY, PROCESSED = 12, 20, 20, 50
_KEYED = re.compile(r"^(?P<path>[A-Za-z]+/[A-Za-z]+)\(guid'(?P<key>[^']*)'\)$")
_DATES = ("OrderDate", "InvoiceDate", "EntryDate", "DeliveryDate", "DueDate")
# entity set -> (key, OData type, lines property, the lines' OData type)
SETS: dict[str, tuple[str, str, str | None, str | None]] = {
    "crm/Accounts": ("ID", "Account", None, None),
    "crm/Contacts": ("ID", "Contact", None, None),
    "salesorder/SalesOrders": ("OrderID", "SalesOrder", "SalesOrderLines", "SalesOrderLine"),
    "salesinvoice/SalesInvoices": (
        "InvoiceID",
        "SalesInvoice",
        "SalesInvoiceLines",
        "SalesInvoiceLine",
    ),
    "salesentry/SalesEntries": ("EntryID", "SalesEntry", "SalesEntryLines", "SalesEntryLine"),
}


def stand_in(settings: ExactSettings) -> StandIn:
    """The registry's stand-in factory: one per dry run."""
    return ExactStandIn(settings)


class ExactStandIn:
    def __init__(self, settings: ExactSettings) -> None:
        self.settings = settings
        self.lookups = Lookups(settings)
        self.checks = Checks(self.lookups, self._account_of)
        self._ids, self._numbers = Counter(), Counter()
        self._made: set[str] = set()  # every id made up by this run
        self._accounts: dict[str, Row] = {}  # made up by this run
        self._invoices: dict[str, Row] = {}  # made up or processed by this run
        self._seen_accounts: dict[str, Row | None] = {}  # Exact's, as read
        self._totals: list[tuple[Decimal, Decimal, Decimal]] = []
        self._guard = threading.Lock()
        self._api_path = urlsplit(settings.api).path.rstrip("/")

    # --- StandIn ------------------------------------------------------------------------------
    def is_write(self, request: httpx.Request) -> bool:
        if request.method in READS:
            return False
        return request.url.path.rstrip("/").lower() != TOKEN_PATH

    def answer(self, request: httpx.Request, read: Read) -> httpx.Response:
        with self._guard:
            self.lookups.using(request, read)
            try:
                return self._answer(request)
            except Refused as refusal:
                text = refusal.text(self._language(refusal))
                return json_answer(request, error_body(text), refusal.status)
            except ReadFailed as failed:  # Exact did not say: the write meets the same answer
                response = failed.response
                headers = {
                    name: value
                    for name, value in response.headers.items()
                    if name.lower() not in ("content-encoding", "content-length")
                }  # the content was decoded when it was read
                return httpx.Response(
                    response.status_code, headers=headers, content=response.content, request=request
                )

    def amounts(self) -> dict[str, str]:
        with self._guard:
            if not self._totals:
                return {}
            excl = sum((t[0] for t in self._totals), Decimal(0))
            vat = sum((t[1] for t in self._totals), Decimal(0))
            total = sum((t[2] for t in self._totals), Decimal(0))
        return {
            "total_excl_vat": str(money(excl)),
            "vat": str(money(vat)),
            "total": str(money(total)),
        }

    # --- routing ------------------------------------------------------------------------------
    def _answer(self, request: httpx.Request) -> httpx.Response:
        path = self._relative(request.url.path)
        keyed = _KEYED.match(path)
        if keyed is not None:
            if request.method == "DELETE":
                self._check_delete(keyed["path"], keyed["key"])
            return httpx.Response(204, request=request)
        if request.method != "POST":
            return httpx.Response(204, request=request)
        body = request_body(request)
        creators = {
            "crm/Accounts": self._account,
            "crm/Contacts": self._contact,
            "salesorder/SalesOrders": self._order,
            "salesinvoice/SalesInvoices": self._invoice,
            "salesentry/SalesEntries": self._entry,
            "salesinvoice/PrintedSalesInvoices": self._printed,
        }
        create = creators.get(path)
        row = create(body) if create is not None else {**body}
        return json_answer(request, {"d": self._rendered(path, row)}, 201)

    def _relative(self, path: str) -> str:
        prefix = self._api_path + "/"
        return path[len(prefix) :] if path.startswith(prefix) else path.lstrip("/")

    # --- answers ------------------------------------------------------------------------------
    def _account(self, body: Row) -> Row:
        self.checks.account(body)
        row = {"Status": "C", "Type": "A", "Blocked": False, **body, "ID": self._guid()}
        row.setdefault("IsSales", row["Status"] == "C")
        code = str(row.get("Code") or "").strip() or str(self._numbers())
        row["Code"] = code.rjust(ACCOUNT_CODE_WIDTH)
        self._accounts[row["ID"]] = row
        return stamped(row)

    def _contact(self, body: Row) -> Row:
        account = self.checks.contact(body)
        names = (body.get("FirstName"), body.get("MiddleName"), body.get("LastName"))
        full_name = " ".join(str(n).strip() for n in names if n and str(n).strip())
        return stamped(
            {
                "IsMainContact": False,
                **body,
                "ID": self._guid(),
                "AccountCode": account.get("Code"),
                "AccountName": account.get("Name"),
                "FullName": full_name,
            }
        )

    def _order(self, body: Row) -> Row:
        booked = self.checks.order(body)
        order_id = self._guid()
        number = body.get("OrderNumber") or self._numbers()
        lines = self._lines(booked, "OrderID", order_id, OrderNumber=number)
        row = {
            **body,
            "OrderID": order_id,
            "OrderNumber": number,
            "DeliverTo": body.get("DeliverTo") or body["OrderedBy"],
            "InvoiceTo": body.get("InvoiceTo") or body["OrderedBy"],
            "Status": OPEN_ORDER,
            "StatusDescription": "Open",
            "DeliveryStatus": OPEN_ORDER,
            "InvoiceStatus": OPEN_ORDER,
            "ApprovalStatus": 1,
            "SalesOrderLines": lines,
            **self._document_totals(booked),
        }
        return stamped(row)

    def _invoice(self, body: Row) -> Row:
        booked = self.checks.invoice(body)
        invoice_id = self._guid()
        ordered_by = body.get("OrderedBy") or body.get("InvoiceTo")
        row = {
            "Type": 8020,
            **body,
            "InvoiceID": invoice_id,
            "InvoiceNumber": None,
            "Status": OPEN_INVOICE,
            "StatusDescription": "Open",
            "DeliverTo": body.get("DeliverTo") or ordered_by,
            "InvoiceTo": body.get("InvoiceTo") or ordered_by,
            "SalesInvoiceLines": self._lines(booked, "InvoiceID", invoice_id),
            **self._document_totals(booked),
        }
        row["VATAmountFC"] = row["VATAmountDC"] = float(booked.total - money(booked.excl))
        self._invoices[invoice_id] = row
        return stamped(row)

    def _entry(self, body: Row) -> Row:
        booked, kind = self.checks.entry(body)
        entry_id = self._guid()
        number = self._numbers()
        total = money(booked.excl + booked.vat)
        self._totals.append((money(booked.excl), total - money(booked.excl), total))
        row = {
            **body,
            "EntryID": entry_id,
            "EntryNumber": number,
            "InvoiceNumber": body.get("InvoiceNumber") or number,
            "Type": kind,
            "Status": OPEN_ENTRY,
            "StatusDescription": "Open",
            "SalesEntryLines": self._lines(booked, "EntryID", entry_id),
            "AmountFC": float(total),
            "AmountDC": float(total),
            "VATAmountFC": float(total - money(booked.excl)),
            "VATAmountDC": float(total - money(booked.excl)),
        }
        return stamped(row)

    def _printed(self, body: Row) -> Row:
        """Processing an invoice: ours (made up) or one that is open in Exact."""
        if mandatory_fields(body, "InvoiceID"):
            raise Refused(400, ("mandatory", "InvoiceID"))
        invoice_id = str(body["InvoiceID"])
        invoice = self._invoices.get(invoice_id) or self.lookups.invoice(invoice_id)
        if invoice is None:
            raise bad_reference("SalesInvoices")
        if invoice.get("Status") == PROCESSED:
            raise Refused(400, ("processed",))
        invoice["Status"] = PROCESSED  # a second print in this run is refused
        self._invoices[invoice_id] = invoice
        emailed = bool(body.get("SendEmailToCustomer"))
        return {
            **body,
            "Division": self.settings.division,
            "Document": self._guid(),
            "DocumentCreationSuccess": "Document created",
            "EmailCreationSuccess": "Email sent" if emailed else None,
        }

    def _check_delete(self, path: str, key: str) -> None:
        """Exact removes what it has, except a processed invoice or booked entry (those need a
        credit note); a row it does not have is a 404."""
        if key in self._invoices:
            if self._invoices[key].get("Status") == PROCESSED:
                raise Refused(400, ("processed",))
            return
        if key in self._made or path not in SETS:
            return
        documents = ("salesinvoice/SalesInvoices", "salesentry/SalesEntries")
        fields = ("Status",) if path in documents else ()
        row = self.lookups.stored(path, SETS[path][0], key, *fields)
        if row is None:
            name = path.split("/")[1]
            raise Refused(404, ("text", f"Resource not found for the segment '{name}'."))
        status = row.get("Status")
        processed = status == PROCESSED if path == documents[0] else status != OPEN_ENTRY
        if path in documents and processed:
            raise Refused(400, ("processed",))

    # --- parts --------------------------------------------------------------------------------
    def _document_totals(self, booked: Booked) -> Row:
        excl, total = money(booked.excl), booked.total
        self._totals.append((excl, total - excl, total))
        return {
            "AmountFCExclVat": float(excl),
            "AmountFC": float(total),
            "AmountDC": float(total),
            "AmountDiscount": float(money(booked.gross - booked.excl)),
        }

    def _lines(self, booked: Booked, parent: str, parent_id: str, **extra: Any) -> list[Row]:
        return [
            {**line, "ID": self._guid(), "LineNumber": index, parent: parent_id, **extra}
            for index, line in enumerate(booked.lines, start=1)
        ]

    def _account_of(self, account_id: str, sent_as: str) -> Row | None:
        if account_id in self._accounts:
            return self._accounts[account_id]
        if account_id not in self._seen_accounts:
            self._seen_accounts[account_id] = self.lookups.account(account_id, sent_as)
        return self._seen_accounts[account_id]

    def _guid(self) -> str:
        made = f"00000000-0000-4000-8000-{self._ids():012d}"
        self._made.add(made)
        return made

    def _language(self, refusal: Refused) -> str:
        if all(message[0] == "text" for message in refusal.messages):
            return "en"
        try:
            return self.lookups.language()
        except ReadFailed:
            return "en"

    def _rendered(self, path: str, row: Row) -> Row:
        """The entity as Exact shows it: `__metadata` first, dates as `/Date(ms)/`, lines
        inline (`{"results": [...]}`) each with its own `__metadata`."""
        key, type_name, lines_name, line_type = SETS.get(path, (None, None, None, None))
        out: Row = {}
        if key is not None and type_name is not None:
            out["__metadata"] = self._metadata(path, type_name, row[key])
        for name, value in row.items():
            out[name] = exact_date(value) if name in _DATES else value
        if lines_name is not None and line_type is not None:
            line_path = f"{path.split('/')[0]}/{lines_name}"
            out[lines_name] = {
                "results": [
                    {"__metadata": self._metadata(line_path, line_type, line["ID"]), **line}
                    for line in row.get(lines_name, [])
                ]
            }
        return out

    def _metadata(self, path: str, type_name: str, key: str) -> Row:
        return {
            "uri": f"{self.settings.api}/{path}(guid'{key}')",
            "type": f"Exact.Web.Api.Models.{type_name}",
        }


def request_body(request: httpx.Request) -> Row:
    """The JSON object sent, or Exact's "request stream" refusal."""
    try:
        body = json.loads(request.content or b"null")
    except ValueError:
        raise Refused(400, ("text", REQUEST_STREAM)) from None
    if not isinstance(body, dict):
        raise Refused(400, ("text", REQUEST_STREAM))
    return body


def stamped(row: Row) -> Row:
    now = exact_date(datetime.now(UTC))
    return {**row, "Created": now, "Modified": now}


def exact_date(value: Any) -> Any:
    """An ISO date or time as Exact answers it (`/Date(ms)/`); other values unchanged."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return f"/Date({int(moment.timestamp() * 1000)})/"
    if not isinstance(value, str) or value.startswith("/Date("):
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return exact_date(parsed)
