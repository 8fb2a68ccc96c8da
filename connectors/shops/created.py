"""Orders a shop created in a period, page by page, each page with the cursor of the next: what
a backfill reads (`tasks.backfill`), so it can stop after any page and continue from its cursor.

The same three APIs as reconciliation, through the same page fetchers (and so the same rate
limits and tokens), asked by creation time instead of change time:
- Shopify GraphQL: `orders(query: "created_at:>='…' created_at:<'…'", sortKey: CREATED_AT)`,
  oldest first; the cursor is the page's `endCursor`. Without the `read_all_orders` scope
  Shopify answers only the last 60 days of orders.
- Shopify REST (`api = "rest"`): `created_at_min`/`created_at_max`, `status=any`, newest first
  (the REST API's order); the cursor is the `page_info` of the `Link` header's next page.
- WooCommerce: `after`/`before` (exclusive, GMT) with `orderby=date&order=asc`, numbered pages;
  the cursor is the next page's number. Oldest first, so orders placed while the backfill runs
  land after the period or on its last page, and the numbers of the pages before stay put.

The period is `[since, until)`. Each shop's lister is in its package (`shopify/created.py`,
`woocommerce/created.py`), reached through `ShopSource.orders_created`; this module holds what
they share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Page:
    """One page of orders (the shop's payloads, REST-shaped) and the cursor of the next page
    (None: this was the last)."""

    orders: list[dict[str, Any]]
    next: str | None


class CreatedOrders(Protocol):
    """A shop's orders created in a period. `oldest_first`: the order pages come in (progress
    through the period is told by the creation time of the last order seen)."""

    oldest_first: bool

    def page(self, cursor: str | None) -> Page:
        """The page at `cursor` (None: the first page)."""
        ...
