"""`POST /v1/connections/{name}/preview`: a dry run of an order (operator token).

The body is a canonical order, or with `?source=shopify|woocommerce` that shop's order payload;
the answer shows what a real run would find, create and send at the ERP, and what it would
refuse, with nothing written there (`tasks.preview`). The ERP's reads do happen, through the
connection's request budget, in the thread pool (they wait on the ERP).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from connectors.errors import ErpError
from schemas.preview import Preview
from schemas.shops.errors import MappingError
from tasks.preview import order_to_preview, preview
from workers.intake.errors import ApiError, error_responses, invalid_message, validation_details
from workers.intake.http import parse_json, read_limited, require_operator
from workers.intake.operator import OPERATOR_AUTH, erp_failure

router = APIRouter()
BODY: dict[str, Any] = {
    **OPERATOR_AUTH,
    "requestBody": {
        "required": True,
        "description": "A canonical order (the `Order` schema), or with `source` that shop's "
        "order payload as its webhook sends it.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}


@router.post(
    "/v1/connections/{name}/preview",
    summary="Dry run: what an order would send to the ERP (nothing is written)",
    response_model=None,
    responses={200: {"model": Preview}, **error_responses(400, 404, 413, 422, 502, 503)},
    openapi_extra=BODY,
)
async def post_preview(
    name: str,
    request: Request,
    source: str | None = Query(
        None,
        max_length=40,
        description="the body is this shop's order payload (a shop of `POST /webhooks/{source}/"
        "{name}`, e.g. `shopify`)",
    ),
) -> dict[str, Any]:
    rt = require_operator(request)
    if name not in rt.settings.connections:
        raise ApiError(404, "unknown_connection", f"no connection named {name!r}")
    payload = parse_json(await read_limited(request))
    if not isinstance(payload, dict):
        details = [{"field": "body", "message": "expected an object"}]
        raise ApiError(422, "validation_failed", "the order must be a JSON object", details)
    try:
        order = order_to_preview(rt, name, payload, source)
    except ValidationError as exc:
        details = validation_details(exc)
        raise ApiError(
            422, "validation_failed", invalid_message("order", details), details
        ) from None
    except MappingError as exc:
        details = [{"field": exc.field, "message": exc.message}]
        raise ApiError(422, "unusable_order", str(exc), details) from None
    except ValueError as exc:
        raise ApiError(422, "unusable_order", str(exc)) from None
    try:
        report = await run_in_threadpool(preview, rt, name, order)
    except ValueError as exc:  # what a dry run does not cover (a refund, an ERP without one)
        raise ApiError(422, "not_supported", str(exc)) from None
    except ErpError as exc:
        raise erp_failure(exc, "the ERP answered 404 to a look-up") from None
    return report.model_dump(mode="json")
