"""What an ERP cannot carry of an order: one canonical field and why it is left out.

Data the shop sent is never dropped without a trace. Each connector says, per order, which of
its fields have no place in its ERP (`Connector.unmapped`); the job keeps the list as warnings,
shown by `GET /v1/jobs/{id}`, in the answer to the order and in the log.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Dropped(BaseModel):
    """One field of the canonical order that does not reach the ERP (or only in part)."""

    model_config = ConfigDict(frozen=True)

    field: str = Field(
        description="the canonical order field, as a dotted path (line numbers from 0)",
        examples=["lines.2.text", "customer.shipping_address"],
    )
    reason: str = Field(
        description="why the ERP does not get it, for the person who reads the job",
        examples=["Sapera has no text lines: the line's text is not sent"],
    )
