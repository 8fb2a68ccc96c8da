"""What a dry run of an order shows: per pipeline step what would be found, created or sent
(the exact ERP request bodies), the amounts the ERP would compute beside the shop's, the
refusal a real run would give (the message a dead letter would carry), and the fields of the
order that will not reach the ERP. Built by `tasks.preview`; served by the CLI and the
operator API.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.dropped import Dropped

Verdict = Literal["would_send", "would_refuse", "duplicate"]
StepOutcome = Literal["found", "would_create", "would_send", "duplicate", "new", "refused"]


class PlannedWrite(BaseModel):
    """One request a real run would send to the ERP, and the answer the ERP's stand-in gave."""

    method: str
    path: str
    query: str = ""
    body: Any = Field(None, description="the JSON body, exactly as a real run would send it")
    status: int = Field(description="the status the ERP would answer with (predicted)")
    answer: Any = Field(None, description="the predicted answer (ids in it are made up)")


class PlannedStep(BaseModel):
    step: str = Field(examples=["upsert_customer"])
    outcome: StepOutcome
    detail: dict[str, Any] = Field(
        default_factory=dict, description="ids found (real) or made up for what would be created"
    )
    writes: list[PlannedWrite] = Field(default_factory=list)


class Refusal(BaseModel):
    """Why a real run would not get the order into the ERP: what the intake answers (step
    `intake`, with the field) or what the dead letter would carry."""

    step: str
    kind: str = Field(description="`permanent` for a dead letter, `invalid` for the intake's 422")
    message: str
    field: str | None = None
    erp_status: int | None = None
    erp_response: Any = None


class Preview(BaseModel):
    connection: str
    erp: str
    reference: str = Field(description="the order's reference in the ERP")
    verdict: Verdict
    steps: list[PlannedStep]
    refusals: list[Refusal] = Field(default_factory=list)
    dropped: list[Dropped] = Field(
        default_factory=list, description="fields of the order the ERP will not get, and why"
    )
    shop_amounts: dict[str, str] = Field(
        description="the order's own amounts: its lines' gross total and the `total` it states"
    )
    erp_amounts: dict[str, str] = Field(
        default_factory=dict,
        description="the amounts the ERP would compute for the document (empty when unknown)",
    )
    reads: int = Field(description="requests sent to the ERP (look-ups and token requests)")
