"""The simulated PowerOffice Go client company: its objects, counters, clock and reference data.

Objects are kept in the ERP's own JSON shape (PascalCase DTO dicts), so `/_sim/state` and the API
answer from the same data. Every handler runs on the server's single event loop and never awaits
between checking and writing, which makes uniqueness checks race-free like a database's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any


@dataclass(frozen=True)
class SalesAccount:
    account_no: int
    id: int
    vat_code: str
    vat_rate: Decimal
    name: str


# Fixed reference data: the product's sales account decides the VAT of a line.
SALES_ACCOUNTS: dict[int, SalesAccount] = {
    account.account_no: account
    for account in (
        SalesAccount(3000, 1003000, "3", Decimal("0.25"), "Salgsinntekt, avgiftspliktig"),
        SalesAccount(3030, 1003030, "31", Decimal("0.15"), "Salgsinntekt, middels sats"),
        SalesAccount(3033, 1003033, "33", Decimal("0.12"), "Salgsinntekt, lav sats"),
        SalesAccount(3100, 1003100, "5", Decimal("0"), "Salgsinntekt, avgiftsfri"),
    )
}
DEFAULT_SALES_ACCOUNT = 3000
FIRST_CUSTOMER_NO = 10000
FIRST_INVOICE_NO = 10001
PAYMENT_TERM_DAYS = 14
CENT = Decimal("0.01")


def sales_account_by_id(account_id: int) -> SalesAccount | None:
    return next((a for a in SALES_ACCOUNTS.values() if a.id == account_id), None)


class Clock:
    """UTC time that never repeats, so `…GreaterThan` cursors never skip a change; balance stamps
    may be made coarse on purpose (`balance_stamp`) to let tests meet stamps that repeat."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)
        self.origin = datetime.now(UTC)  # when the simulated company was created (or reset)

    def now(self) -> datetime:
        now = datetime.now(UTC)
        self._last = now if now > self._last else self._last + timedelta(microseconds=1)
        return self._last

    def stamp(self) -> str:
        return stamp(self.now())

    def balance_stamp(self, resolution_s: int) -> str:
        """Now, floored to whole `resolution_s` steps counted from the company's creation (0: the
        fine resolution). Counting from creation rather than the epoch lets a test that runs for
        less than one step be sure that all its balance changes share one stamp."""
        now = self.now()
        if resolution_s > 0:
            step = timedelta(seconds=resolution_s)
            now = self.origin + (now - self.origin) // step * step
        return stamp(now)

    @staticmethod
    def today() -> date:
        return datetime.now(UTC).date()


def stamp(moment: datetime) -> str:
    """.NET DateTimeOffset style: seven fractional digits and an explicit offset."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> float:
    """Money goes on the wire as a JSON number."""
    return float(cents(value))


def decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


@dataclass
class SendState:
    """One createAndSendInvoice request, settled lazily when its delay has passed."""

    order_id: str
    due: datetime
    delivery_type: str
    email: str | None
    voucher_date: str | None
    due_date: str | None
    error: str | None  # the failure it will end with, fixed when it was requested
    state: str = "processing"  # processing | failed | sent
    last_error: str | None = None


class Table:
    """Objects by Id with exact-match indexes on a few fields, so lookups by reference or code
    stay cheap when a benchmark has filled the company with thousands of objects."""

    def __init__(self, *indexed: str) -> None:
        self._rows: dict[Any, dict[str, Any]] = {}
        self._by: dict[str, dict[Any, dict[Any, None]]] = {name: {} for name in indexed}

    def __setitem__(self, row_id: Any, row: dict[str, Any]) -> None:
        self.pop(row_id, None)
        self._rows[row_id] = row
        for name, index in self._by.items():
            index.setdefault(row.get(name), {})[row_id] = None

    def pop(self, row_id: Any, *default: Any) -> Any:
        if row_id not in self._rows:
            if default:
                return default[0]
            raise KeyError(row_id)
        row = self._rows.pop(row_id)
        for name, index in self._by.items():
            index[row.get(name)].pop(row_id, None)
        return row

    def __delitem__(self, row_id: Any) -> None:
        self.pop(row_id)

    def __getitem__(self, row_id: Any) -> dict[str, Any]:
        return self._rows[row_id]

    def __contains__(self, row_id: object) -> bool:
        return row_id in self._rows

    def get(self, row_id: Any) -> dict[str, Any] | None:
        return self._rows.get(row_id)

    def values(self) -> list[dict[str, Any]]:
        return list(self._rows.values())

    def find(self, name: str, value: Any) -> list[dict[str, Any]]:
        return [self._rows[row_id] for row_id in self._by[name].get(value, {})]


@dataclass
class Store:
    customers: Table = field(
        default_factory=lambda: Table("ExternalImportReference", "ExternalNumber", "Number")
    )
    products: Table = field(default_factory=lambda: Table("Code"))
    orders: Table = field(default_factory=lambda: Table("ExternalImportReference"))
    invoices: Table = field(default_factory=lambda: Table("ExternalImportReference", "InvoiceNo"))
    invoice_lines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sends: dict[str, SendState] = field(default_factory=dict)
    pending: list[tuple[datetime, str]] = field(default_factory=list)  # heap of (due, order id)
    clock: Clock = field(default_factory=Clock)
    _next_id: int = 5_000_001
    _next_order_no: int = 1
    _next_invoice_no: int = FIRST_INVOICE_NO
    _top_customer_no: int = FIRST_CUSTOMER_NO - 1

    def new_id(self) -> int:
        """int64 Ids of contacts, addresses and products, from one sequence."""
        self._next_id += 1
        return self._next_id - 1

    def new_order_no(self) -> int:
        self._next_order_no += 1
        return self._next_order_no - 1

    def new_invoice_no(self) -> int:
        self._next_invoice_no += 1
        return self._next_invoice_no - 1

    def next_customer_no(self) -> int:
        """The number above every customer number used so far."""
        return self._top_customer_no + 1

    def put_customer(self, customer: dict[str, Any]) -> None:
        self._top_customer_no = max(self._top_customer_no, customer["Number"])
        self.customers[customer["Id"]] = customer

    def ref_owner(self, ref: str) -> str | None:
        """Id of the sales order or invoice (same Id) that carries this ExternalImportReference."""
        found = self.orders.find("ExternalImportReference", ref) or self.invoices.find(
            "ExternalImportReference", ref
        )
        return str(found[0]["Id"]) if found else None

    def product_in_use(self, product_id: int) -> bool:
        lines = [line for order in self.orders.values() for line in order["SalesOrderLines"]]
        lines += [line for batch in self.invoice_lines.values() for line in batch]
        return any(line.get("ProductId") == product_id for line in lines)

    def customer_in_use(self, customer_id: int) -> bool:
        docs = (*self.orders.values(), *self.invoices.values())
        return any(doc.get("CustomerId") == customer_id for doc in docs)
