"""Orders generated from the published `Order` schema are accepted by the intake.

A client built from `/openapi.json` must be able to send orders the intake takes. Schemathesis
generates request bodies for `POST /v1/connections/{name}/orders` from the document the intake
serves (positive data: every body fits the schema), each is posted in-process (fakeredis, as in
`test_examples.py`) and the answers are counted (accepted: 202, or 200 for a repeated external id).

Each body is posted twice, to two intakes: as generated, where a refusal is allowed only for the
rules the schema cannot say (`schemas.order.CROSS_FIELD_RULES`, listed below as the intake words
them), and as a client that read the schema's description sends it (`follow_stated_rules`: the
same order, its `total` the lines' sum and a discount above the line's gross left out); at least
95 % of those must be accepted. Random totals rarely add up, so the first count alone would
measure the dice, not the schema.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from decimal import Decimal
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
)
CENT = Decimal("0.01")
LARGEST_TOTAL = Decimal(10**12)  # a total's whole digits (`schemas.fields.WHOLE_DIGITS`)


def number(value: Any) -> Decimal:
    return Decimal(str(value).strip())


def follow_stated_rules(body: dict[str, Any]) -> dict[str, Any]:
    """The order as a client following the schema's description sends it: a product line's
    discount at most its gross (else none), and `total` the sum of the lines (rounded to cents,
    within the allowed difference), or left out when that sum is too large to state."""
    lines = []
    for line in body["lines"]:
        if line["type"] == "product" and "discount" in line:
            gross = number(line["quantity"]) * number(line["unit_price"])
            if number(line["discount"]) > gross:
                line = {k: v for k, v in line.items() if k != "discount"}
        lines.append(line)
    order = {k: v for k, v in body.items() if k != "total"}
    if "total" in body:
        total = sum((amount(line) for line in lines), Decimal("0")).quantize(CENT)
        if abs(total) < LARGEST_TOTAL:
            order["total"] = str(total)
    return {**order, "lines": lines}


def amount(line: dict[str, Any]) -> Decimal:
    if line["type"] == "shipping":
        return number(line["amount"])
    if line["type"] == "product":
        gross = number(line["quantity"]) * number(line["unit_price"])
        return gross - number(line.get("discount", 0))
    return Decimal("0")


def allowed(details: list[dict[str, Any]]) -> bool:
    """Every problem named is one of the rules the schema cannot say."""
    return bool(details) and all(
        any(
            re.fullmatch(field, d["field"]) and text in d["message"]
            for field, text in ALLOWED_REFUSALS
        )
        for d in details
    )


Outcomes = tuple[Counter[str], list[str]]


def post_generated_orders(count: int) -> tuple[Outcomes, Outcomes]:
    """Post `count` generated orders as generated and as `follow_stated_rules` makes them; the
    outcomes counted, and the unexpected refusals, of each."""
    raw, followed = Intake(), Intake()
    schema = schemathesis.openapi.from_asgi("/openapi.json", raw.http.app)
    operation = schema[ORDERS_PATH]["POST"]
    counted: dict[int, Outcomes] = {id(raw): (Counter(), []), id(followed): (Counter(), [])}

    def send(intake: Intake, body: dict[str, Any]) -> None:
        outcomes, unexpected = counted[id(intake)]
        response = intake.post_order(CONNECTION, json.dumps(body).encode())
        if response.status_code in (200, 202):
            outcomes["accepted"] += 1
        elif response.status_code == 422 and allowed(response.json()["error"]["details"]):
            outcomes["refused, allowed"] += 1
        else:
            outcomes["refused, unexpected"] += 1
            unexpected.append(f"{response.status_code} {response.text[:300]}")

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
        send(raw, case.body)
        send(followed, follow_stated_rules(case.body))

    with raw.http, followed.http:
        post()
    return counted[id(raw)], counted[id(followed)]


def test_a_refusal_is_allowed_for_each_rule_the_schema_cannot_say_and_only_those() -> None:
    assert len(ALLOWED_REFUSALS) == len(CROSS_FIELD_RULES)
    assert allowed(
        [{"field": "total", "message": "total 5 does not match the sum of lines and shipping 3"}]
    )
    assert not allowed([{"field": "lines.0.quantity", "message": "Input should be greater"}])
    assert not allowed([])


def test_a_client_following_the_description_states_a_total_that_adds_up() -> None:
    body = {
        "total": "1",
        "lines": [
            {"type": "product", "quantity": "2", "unit_price": "0.005", "discount": "7"},
            {"type": "product", "quantity": 3, "unit_price": "1.5", "discount": "0.5"},
            {"type": "shipping", "amount": " 49 "},
            {"type": "text", "text": "hello"},
        ],
    }
    followed = follow_stated_rules(body)
    assert "discount" not in followed["lines"][0]
    assert followed["total"] == "53.01"  # 0.01 + 4.00 + 49
    assert "total" not in follow_stated_rules({"lines": body["lines"]})


def test_orders_generated_from_the_published_schema_are_accepted() -> None:
    (raw, unexpected_raw), (followed, unexpected) = post_generated_orders(ORDERS)
    generated = sum(raw.values())
    judged = generated - raw["refused, allowed"]
    print(
        f"{generated} orders generated; as generated: {dict(raw)}, accepted "
        f"{raw['accepted'] / generated:.1%} (of those no stated rule refused "
        f"{raw['accepted'] / judged:.1%}); following the stated rules: {dict(followed)}, "
        f"accepted {followed['accepted'] / generated:.1%}"
    )
    assert generated >= ORDERS * 0.9
    assert sum(followed.values()) == generated
    assert followed["accepted"] >= 0.95 * generated, unexpected[:5]
    assert judged >= generated / 3, "too few orders outside the allowed refusals to judge"
    assert raw["accepted"] >= 0.95 * judged, unexpected_raw[:5]
    assert raw["refused, allowed"] > 0, "the stated rules were never hit: the count proves little"
