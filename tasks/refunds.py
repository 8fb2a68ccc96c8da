"""Refunds the shop made that no webhook told us of: found by reconciliation, read from the
shop's API, and made into credit jobs through the same door as everything else.

Shopify: an order whose financial status says refunded (partly or fully) has its refunds read by
GraphQL; WooCommerce: the refund ids an order lists are read from its refunds resource. A refund
that already has its credit job (`refund-<id>`) costs no request; one that cannot be a credit
note is logged with the field that stops it (the shop's webhook path answers 422 for the same).
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors.shops.clients import woocommerce_refund_resource
from connectors.shops.shopify_graphql import order_refunds
from core.logging import get_logger
from core.runtime import Runtime
from core.settings import ConnectionSettings
from schemas.order import Order
from schemas.shops.credit import credit_external_id
from schemas.shops.errors import MappingError
from schemas.shops.shopify_refund import shopify_refund
from schemas.shops.woocommerce_refund import woocommerce_refund, woocommerce_refund_ids
from tasks.events import OrderEvent, apply_event

log = get_logger("orderbridge.refunds")
SHOPIFY_REFUNDED = frozenset({"partially_refunded", "refunded"})


def credit_missing_refunds(
    rt: Runtime,
    conn: ConnectionSettings,
    payload: dict[str, Any],
    order: Order | None,
    client: httpx.Client,
) -> int:
    """Create credit jobs for the order's refunds that have none yet; returns how many."""
    order_id = str(payload.get("id"))
    if conn.source == "shopify":
        if payload.get("financial_status") not in SHOPIFY_REFUNDED:
            return 0
        refunds = [
            r
            for r in order_refunds(conn.shop, order_id, client, rt.store)
            if missing_credit(rt, conn, str(r.get("id")))
        ]
        if not refunds:
            return 0
        original = original_order(rt, conn, order_id) or order
        credits = [
            _mapped(
                lambda r=r: shopify_refund(r, original, fallback_sku=conn.shop.fallback_sku),
                conn,
                r,
            )
            for r in refunds
        ]
    elif conn.source == "woocommerce":
        ids = [i for i in woocommerce_refund_ids(payload) if missing_credit(rt, conn, i)]
        if not ids:
            return 0
        against = original_order(rt, conn, order_id) or order or payload
        credits = [
            _mapped(
                lambda i=i: woocommerce_refund(
                    woocommerce_refund_resource(conn.shop, order_id, i, client),
                    against,
                    fallback_sku=conn.shop.fallback_sku,
                ),
                conn,
                {"id": i},
            )
            for i in ids
        ]
    else:
        return 0
    made = 0
    for credit in credits:
        if credit is not None:
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


def _mapped(read: Any, conn: ConnectionSettings, refund: dict[str, Any]) -> Order | None:
    try:
        return read()  # type: ignore[no-any-return]
    except MappingError as exc:
        log.warning(
            "refund.unmappable",
            connection=conn.name,
            refund_id=refund.get("id"),
            field=exc.field,
            error=exc.message,
        )
        return None
