"""A dead letter: one job that could not be transferred, with what an operator needs to act.

It names the failed step, the error kind, the ERP's own message and status and its (redacted)
answer, so the operator can fix the cause and replay without reading worker logs. It never holds
credentials: `connectors.errors.redact` has cleaned `erp_response` before it gets here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from schemas.job import Step, utcnow


class DeadLetter(BaseModel):
    id: str
    job_id: str
    connection: str
    external_id: str
    reference: str
    step: Step | None = None  # the failed pipeline step; None for an event delivery
    kind: str  # transient | ambiguous | permanent | delivery
    reason: str
    message: str
    erp_status: int | None = None
    erp_response: Any = None
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    first_failure_at: datetime | None = None
    # kind `delivery`: the event that could not be delivered to the connection's webhook (its
    # body holds no secrets: the signature is made again when it is sent).
    event: dict[str, Any] | None = None
