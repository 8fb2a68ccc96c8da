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


def credit_missing_refunds(rt: Runtime, conn: ConnectionSettings, payload: dict[str, Any],
                           order: Order | None, client: httpx.Client) -> int:
    """Create credit jobs for the order's refunds that have none yet; returns how many."""
    if conn.source == "shopify":
        if payload.get("financial_status") not in SHOPIFY_REFUNDED:
            return 0
        refunds = [r for r in order_refunds(conn.shop, str(payload.get("id")), client, rt.store)
                   if _missing(rt, conn, str(r.get("id")))]
        credits = [_mapped(lambda r=r: shopify_refund(r, _original(rt, conn, order, payload),
                                                      fallback_sku=conn.shop.fallback_sku),
                           conn, r) for r in refunds]
    elif conn.source == "woocommerce":
        ids = [i for i in woocommerce_refund_ids(payload) if _missing(rt, conn, i)]
        credits = [_mapped(lambda i=i: woocommerce_refund(
            woocommerce_refund_resource(conn.shop, str(payload.get("id")), i, client),
            _original(rt, conn, order, payload) or payload,
            fallback_sku=conn.shop.fallback_sku), conn, {"id": i}) for i in ids]
    else:
        return 0
    made = 0
    for credit in credits:
        if credit is not None:
            decision = apply_event(rt, conn.name, OrderEvent(credit.external_id, credit))
            made += decision.outcome == "accepted"
    return made


def _missing(rt: Runtime, conn: ConnectionSettings, refund_id: str) -> bool:
    return rt.store.job_id_for(conn.name, credit_external_id(refund_id)) is None


def _original(rt: Runtime, conn: ConnectionSettings, order: Order | None,
              payload: dict[str, Any]) -> Order | None:
    """The refunded order as we took it in (its job), else as just read from the shop."""
    job_id = rt.store.job_id_for(conn.name, str(payload.get("id")))
    job = rt.store.load_job(job_id) if job_id else None
    return job.order if job and job.order else order


def _mapped(read: Any, conn: ConnectionSettings, refund: dict[str, Any]) -> Order | None:
    try:
        return read()  # type: ignore[no-any-return]
    except MappingError as exc:
        log.warning("refund.unmappable", connection=conn.name, refund_id=refund.get("id"),
                    field=exc.field, error=exc.message)
        return None
