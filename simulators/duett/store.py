"""The simulated Duett company: its customers, articles, orders and customer ledger, and the
counters behind them.

Entities are kept in the API's own camelCase shape, so `/_sim/state` and the API answer from the
same data. `rowVersion` is one growing counter over every write, like SQL Server's rowversion,
which is what makes `filter[rowVersion][GT]` a change feed. Handlers never await between
checking and writing, so numbering is race-free on the server's single event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FIRST_IDS = {"customer": 1001, "article": 2001, "order": 5001, "line": 90001, "ledger": 700001}
FIRST_INVOICE_NUMBER = 10001
FIRST_VOUCHER_NUMBER = 30001


@dataclass
class Store:
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    articles: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    ledger: dict[int, dict[str, Any]] = field(default_factory=dict)  # voucher report rows
    ledger_of_order: dict[int, int] = field(default_factory=dict)  # order id -> its invoice row
    article_numbers: dict[str, int] = field(default_factory=dict)  # lowercased number -> id
    customer_numbers: set[str] = field(default_factory=set)
    series_next: dict[int, int] = field(default_factory=dict)  # number series id -> next free
    _next_ids: dict[str, int] = field(default_factory=lambda: dict(FIRST_IDS))
    _row_version: int = 0
    _order_numbers: dict[int, int] = field(default_factory=dict)  # invoiceYear -> last number
    _next_invoice: int = FIRST_INVOICE_NUMBER
    _voucher_numbers: dict[int, int] = field(default_factory=dict)  # voucherYear -> last number
    _next_article_number: int = 1

    def new_id(self, kind: str) -> int:
        self._next_ids[kind] += 1
        return self._next_ids[kind] - 1

    def row_version(self) -> int:
        self._row_version += 1
        return self._row_version

    def order_number(self, year: int) -> int:
        """Order numbers start over every year: an order is known by (number, invoiceYear)."""
        self._order_numbers[year] = self._order_numbers.get(year, 0) + 1
        return self._order_numbers[year]

    def invoice_number(self) -> int:
        self._next_invoice += 1
        return self._next_invoice - 1

    def voucher_number(self, year: int) -> int:
        """Voucher numbers restart every year, like order numbers: (number, year) is unique."""
        last = self._voucher_numbers.get(year, FIRST_VOUCHER_NUMBER - 1)
        self._voucher_numbers[year] = last + 1
        return last + 1

    def auto_article_number(self) -> str:
        """A number for an article created without one: the next unused integer."""
        while str(self._next_article_number) in self.article_numbers:
            self._next_article_number += 1
        return str(self._next_article_number)

    def article_by_number(self, number: str) -> dict[str, Any] | None:
        article_id = self.article_numbers.get(number.lower())
        return None if article_id is None else self.articles[article_id]

    def put_article(self, article: dict[str, Any]) -> None:
        self.article_numbers[article["articleNumber"].lower()] = article["id"]
        self.articles[article["id"]] = article

    def put_customer(self, customer: dict[str, Any]) -> None:
        previous = self.customers.get(customer["id"])
        if previous is not None:
            self.customer_numbers.discard(previous["customerNumber"])
        self.customer_numbers.add(customer["customerNumber"])
        self.customers[customer["id"]] = customer
