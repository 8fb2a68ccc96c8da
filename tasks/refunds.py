"""Refunds the shop made that no webhook told us of: found by reconciliation, read from the
shop's API, and made into credit jobs through the same door as everything else.

Which refunds an order has and how they are read is the shop's (`ShopSource.refunds_of`: Shopify
reads an order's refunds by GraphQL when its financial status says refunded, WooCommerce reads
each refund id the order body lists from its refunds resource). A refund that already has its
credit job (`refund-<id>`) costs no request; one that cannot be a credit note is logged with the
field that stops it (the shop's webhook path answers 422 for the same).
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors.shops.registry import SHOPS
from core.logging import get_logger
from core.runtime import Runtime
from core.settings import ConnectionSettings
from schemas.order import Order
from schemas.shops.credit import credit_external_id
from schemas.shops.errors import MappingError
from tasks.events import OrderEvent, apply_event

log = get_logger("orderbridge.refunds")


def credit_missing_refunds(
    rt: Runtime,
    conn: ConnectionSettings,
    payload: dict[str, Any],
    order: Order | None,
    client: httpx.Client,
) -> int:
    """Create credit jobs for the order's refunds that have none yet; returns how many."""
    shop = SHOPS.get(conn.source)
    if shop is None:
        return 0
    refunds = shop.refunds_of(
        conn.shop, payload, client, rt.store, lambda refund_id: missing_credit(rt, conn, refund_id)
    )
    if not refunds:
        return 0
    original = original_order(rt, conn, str(payload.get("id"))) or order
    made = 0
    for refund in refunds:
        try:
            credit = shop.refund(refund, original, payload, fallback_sku=conn.shop.fallback_sku)
        except MappingError as exc:
            log.warning(
                "refund.unmappable",
                connection=conn.name,
                refund_id=refund.get("id"),
                field=exc.field,
                error=exc.message,
            )
            continue
        decision = apply_event(rt, conn.name, OrderEvent(credit.external_id, credit))
        made += decision.outcome == "accepted"
    return made


def missing_credit(rt: Runtime, conn: ConnectionSettings, refund_id: str) -> bool:
    """True when the shop refund `refund_id` has no credit job yet."""
    return rt.store.job_id_for(conn.name, credit_external_id(refund_id)) is None


def original_order(rt: Runtime, conn: ConnectionSettings, order_id: str) -> Order | None:
    """The refunded shop order as we took it in (its job's order), if we have it."""
    job_id = rt.store.job_id_for(conn.name, order_id) if order_id else None
    job = rt.store.load_job(job_id) if job_id else None
    return job.order if job else None
