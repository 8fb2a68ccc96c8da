"""Orders generated from the published `Order` schema are accepted by the intake.

A client built from `/openapi.json` must be able to send orders the intake takes. Schemathesis
generates request bodies for `POST /v1/connections/{name}/orders` from the document the intake
serves (positive data: every body fits the schema), each is posted in-process (fakeredis, as in
`test_examples.py`) and the answers are counted. A refusal is allowed only for the rules the
schema cannot say (`schemas.order.CROSS_FIELD_RULES`, listed below as the intake words them);
of the other orders at least 95 % must be accepted (202, or 200 for a repeated external id).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from schemas.order import CROSS_FIELD_RULES
from tests.support.intake import ORDERS_PATH, Intake

ORDERS = 250
CONNECTION = "demo-poweroffice"  # its ERP checks nothing more (`check_order`)
# (field, message) of each refusal the schema cannot prevent, one per CROSS_FIELD_RULES entry.
ALLOWED_REFUSALS = (
    (r"total", "does not match the sum of lines and shipping"),
    (r"lines\.\d+", "discount is larger than quantity × unit_price"),
    (r"lines\.\d+", "given for quantity"),  # serial_numbers: N given for quantity Q
)


def allowed(details: list[dict[str, Any]]) -> bool:
    """Every problem named is one of the rules the schema cannot say."""
    return bool(details) and all(
        any(
            re.fullmatch(field, d["field"]) and text in d["message"]
            for field, text in ALLOWED_REFUSALS
        )
        for d in details
    )


def post_generated_orders(intake: Intake, count: int) -> tuple[Counter[str], list[str]]:
    """Post `count` generated orders; the outcomes counted, and the unexpected refusals."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", intake.http.app)
    operation = schema[ORDERS_PATH]["POST"]
    outcomes: Counter[str] = Counter()
    unexpected: list[str] = []

    @settings(
        max_examples=count,
        phases=[Phase.generate],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def post(case: Any) -> None:
        response = intake.post_order(CONNECTION, json.dumps(case.body).encode())
        if response.status_code in (200, 202):
            outcomes["accepted"] += 1
        elif response.status_code == 422 and allowed(response.json()["error"]["details"]):
            outcomes["refused, allowed"] += 1
        else:
            outcomes["refused, unexpected"] += 1
            unexpected.append(f"{response.status_code} {response.text[:300]}")

    post()
    return outcomes, unexpected


def test_a_refusal_is_allowed_for_each_rule_the_schema_cannot_say_and_only_those() -> None:
    assert len(ALLOWED_REFUSALS) == len(CROSS_FIELD_RULES)
    assert allowed(
        [{"field": "total", "message": "total 5 does not match the sum of lines and shipping 3"}]
    )
    assert not allowed([{"field": "lines.0.quantity", "message": "Input should be greater"}])
    assert not allowed([])


def test_orders_generated_from_the_published_schema_are_accepted() -> None:
    intake = Intake()
    with intake.http:
        outcomes, unexpected = post_generated_orders(intake, ORDERS)
    generated = sum(outcomes.values())
    judged = generated - outcomes["refused, allowed"]
    rate = outcomes["accepted"] / judged
    print(f"{generated} orders generated: {dict(outcomes)}; accepted {rate:.1%} of the judged")
    assert generated >= ORDERS * 0.9
    assert judged >= generated / 3, "too few orders outside the allowed refusals to judge"
    assert rate >= 0.95, unexpected[:5]
