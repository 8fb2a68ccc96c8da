"""`POST /api/financial/Invoice/GetInvoicesPage`: the invoices, as a poller reads them back.

Sapera documents the Get[Something]Page pattern and the sales-order page; an invoice page is our
guess by analogy (URL an option), with the same paging and the sales-order page's filters:
`createdAt` / `updatedAt` `{from, to}` (inclusive, either end null) and `numericIdentifier` on
the invoice number. Entries are what GetInvoice shows, the items only with `propertiesToLoad`
flag 1.
"""

from __future__ import annotations

from typing import Any

from simulators.sapera.context import Ctx, Route
from simulators.sapera.filters import date_tests, number_test
from simulators.sapera.invoices import view
from simulators.sapera.options import SaperaSimOptions
from simulators.sapera.paging import page, properties

ITEMS = 1  # the propertiesToLoad flag that adds an invoice's items


def get_page(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body
    tests = [*date_tests(body), *number_test(body)]
    rows = [invoice for invoice in ctx.store.invoices.values() if all(t(invoice) for t in tests)]
    with_items = bool(properties(body) & ITEMS)
    return page(body, rows, lambda invoice: view(invoice, ctx.options, with_items))


def routes(options: SaperaSimOptions) -> list[Route]:
    return [Route(options.invoices_page_path, get_page, "PageResult<Invoice>")]
