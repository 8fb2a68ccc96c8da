"""WooCommerce's orders created in a period, page by page, for a backfill
(`connectors.shops.created`): `after`/`before` (exclusive, GMT) with `orderby=date&order=asc`,
numbered pages, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from connectors.base import TokenStore
from connectors.shops.created import ONE_SECOND, Page
from connectors.shops.settings import ShopSettings
from connectors.shops.woocommerce.rest import woocommerce_orders_page


class WooCommerceCreated:
    oldest_first = True

    def __init__(
        self,
        shop: ShopSettings,
        since: datetime,
        until: datetime,
        client: httpx.Client,
        store: TokenStore | None,
    ) -> None:
        self.shop, self.client = shop, client
        self.params = {
            # `after` is exclusive: one second earlier takes in an order placed at `since`
            "after": _gmt(since - ONE_SECOND),
            "before": _gmt(until),
            "orderby": "date",
        }

    def page(self, cursor: str | None) -> Page:
        number = int(cursor) if cursor and cursor.isdigit() else 1
        orders, pages = woocommerce_orders_page(self.shop, self.params, number, self.client)
        return Page(orders, str(number + 1) if number < pages else None)


def _gmt(moment: datetime) -> str:
    """WooCommerce's filter time (with `dates_are_gmt`): GMT, no offset, whole seconds."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
