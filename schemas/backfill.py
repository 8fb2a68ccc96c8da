"""What a backfill reports: where it stands in the period and what became of the orders it found.

Every order found is counted once, in exactly one of `new` (orderbridge made its job now, or
sends now the job of an order it previewed in preview mode), `known` (it had a job already: a
webhook or reconciliation got there first) and `refused` (it cannot become a job: unmappable,
cancelled in the shop before it was transferred, ...), so `found = new + known + refused`. A dry
run counts what a real run would do, with the dry run's verdict per order in `by_verdict`. Built
by `tasks.backfill_progress`; served by the CLI and the operator API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

BackfillState = Literal["running", "interrupted", "failed", "done"]
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


class BackfillRequest(BaseModel):
    """What to backfill: the orders created from `since` up to `until` (exclusive). Times
    without an offset, and dates (midnight), are UTC."""

    model_config = ConfigDict(extra="forbid")
    since: datetime = Field(examples=["2026-11-01"])
    until: datetime | None = Field(
        None, description="default: when the backfill first starts", examples=["2026-12-01"]
    )
    dry_run: bool = Field(False, description="preview each order instead of submitting it")
    fresh: bool = Field(False, description="forget an earlier run's progress and start over")

    @field_validator("since", "until")
    @classmethod
    def _utc_in_range(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        if not EARLIEST <= value <= LATEST:
            raise ValueError("must lie between the years 2000 and 2100")
        return value.astimezone(UTC)


class BackfillSummary(BaseModel):
    found: int = 0
    new: int = 0
    known: int = 0
    refused: int = 0
    by_reason: dict[str, int] = Field(default_factory=dict, description="refused orders per reason")
    by_verdict: dict[str, int] = Field(
        default_factory=dict,
        description="a dry run: orders per preview verdict (would_send, duplicate, would_refuse)",
    )


class RefusedOrder(BaseModel):
    order_id: str
    reason: str


class BackfillProgress(BaseModel):
    id: str = Field(description="the backfill's id: its connection, period and mode")
    connection: str
    since: datetime
    until: datetime = Field(description="the end of the period (exclusive)")
    dry_run: bool
    state: BackfillState = Field(
        description="`interrupted`: it stopped without finishing (killed); start it again with "
        "the same arguments and it continues where it stopped"
    )
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    pages: int = Field(0, description="pages of the shop's order list done")
    position: datetime | None = Field(None, description="creation time of the last order handled")
    done_fraction: float = Field(0.0, description="how much of the period is done (0 to 1)")
    error: str | None = Field(None, description="why it failed (`failed`)")
    summary: BackfillSummary
    refused_orders: list[RefusedOrder] = Field(
        default_factory=list, description="the first refused orders, with their reasons"
    )


class BackfillList(BaseModel):
    items: list[BackfillProgress]
