"""What a shop says about an order's life, apart from its contents.

The pipeline needs a few facts to decide what to do with a delivery or a polled order: is it
newer than what we have (`updated_at`), has it been paid, cancelled, is it still a checkout
draft or a test order. Both shops spell these differently; `ShopStatus` is the common reading,
produced by `shopify_status` and `woocommerce_status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ShopStatus:
    order_id: str
    updated_at: datetime  # UTC, aware
    paid: bool
    cancelled: bool
    draft: bool
    test: bool
