"""What the ERP will not get of an order, found once at the door for every producer (canonical
API, webhooks, reconciliation, CLI, a Python call all create jobs through
`events.submit_order`): kept on the job as its warnings and logged, one event per field, so no
data the shop sent is dropped without a trace."""

from __future__ import annotations

from core.logging import get_logger
from core.runtime import Runtime
from schemas.dropped import Dropped
from schemas.job import Job
from schemas.order import Order

log = get_logger("orderbridge.intake")


def unmapped(rt: Runtime, connection: str, order: Order, reference: str) -> list[Dropped]:
    """The connection's ERP's own account of what it leaves out of this order."""
    return rt.connector(connection).unmapped(order, reference)


def log_dropped(job: Job) -> None:
    """One `order.field_dropped` event per warning of a new job (field paths and reasons name
    no personal data)."""
    for dropped in job.warnings:
        log.warning(
            "order.field_dropped",
            connection=job.connection,
            job_id=job.job_id,
            reference=job.reference,
            field=dropped.field,
            reason=dropped.reason,
        )
