"""Schemathesis against a running intake: every operation of `/openapi.json`, positive data.

A real intake and an `orderbridge worker` on Redis (the `Cluster` of the e2e tests, PowerOffice
simulator as the ERP), with two connections: `shop` (a Shopify source) and `woo` (WooCommerce).
The document is read from the running intake; each operation gets up to `EXAMPLES` generated
requests (derandomized, so a run is reproducible) with the token its `security` names. Half of
them are pointed at things that exist, so the answers are more than 404s: the connections, a job
and two dead letters made before the run (one to replay, one to drop), and shop deliveries
signed with the connection's secret and carrying a topic it handles.

Checks: no server error, status codes, content types, headers and bodies as published.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from connectors.shops.registry import SHOPS as SHOP_SOURCES
from tests.support.cluster import Cluster, Simulator, poll
from tests.support.config import OPERATOR_TOKEN, SHOP_TOKEN, poweroffice_connection
from tests.support.factories import order, product_line
from tests.support.payloads import SECRET, sign

pytestmark = pytest.mark.e2e

EXAMPLES = 50  # per operation (fewer where fewer distinct requests exist): about a minute
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TOKENS = {"shopToken": SHOP_TOKEN, "operatorToken": OPERATOR_TOKEN}
# Routes that call the ERP answer 502/503 when it refuses or is busy (the PowerOffice simulator
# rate-limits): published answers about the ERP, not a failure of the intake.
ERP_ROUTES = {
    "GET /v1/connections/{name}/invoices/{invoice_id}/lines",
    "POST /v1/connections/{name}/preview",  # reads the ERP (a dry run writes nothing)
}
ERP_CODES = {"erp_error", "erp_unavailable"}
SHOPIFY_TOPICS = SHOP_SOURCES["shopify"].webhook.topics
WOO_TOPICS = SHOP_SOURCES["woocommerce"].webhook.topics
PREVIEW = "/v1/connections/{name}/preview"


# Per webhook route: its connection, and the headers that carry the signature and the topic.
SHOPS = {
    "/webhooks/shopify/{name}": ("shop", "X-Shopify-Hmac-Sha256", "X-Shopify-Topic"),
    "/webhooks/woocommerce/{name}": ("woo", "X-WC-Webhook-Signature", "X-WC-Webhook-Topic"),
}


@dataclass(frozen=True)
class Known:
    """What exists before the run: path parameters that lead past the 404."""

    job_id: str
    letter_to_replay: str
    letter_to_drop: str

    def path_value(self, name: str, operation: Any) -> str | None:
        if name == "name":
            return SHOPS.get(operation.path, ("shop",))[0]
        if name == "letter_id":
            return (
                self.letter_to_drop
                if operation.method.upper() == "DELETE"
                else (self.letter_to_replay)
            )
        return self.job_id if name == "job_id" else None


@pytest.fixture
def api(cluster_factory: Callable[..., Cluster], sim: Simulator) -> Cluster:
    def shop(source: str) -> dict[str, Any]:
        secret = {"webhook_secret": SECRET, "fallback_sku": "DIVERSE"}
        return poweroffice_connection(sim.url, source=source, shop=secret)

    cluster = cluster_factory(connection=shop("shopify"), others={"woo": shop("woocommerce")})
    cluster.start()
    return cluster


def seed(cluster: Cluster) -> Known:
    """One order done, two the ERP refuses (a VAT rate PowerOffice has no code for)."""
    refused_line = product_line("KAFFE-500", "1", "10.00", "0", "0.10")
    done = cluster.accept(order())
    refused = [cluster.accept(order(lines=[refused_line])) for _ in range(2)]
    cluster.wait_final(done)
    letters = [
        poll(lambda job=job: cluster.wait_final(job).get("dead_letter_id"), what="dead letter")
        for job in refused
    ]
    return Known(done, *letters)


def prepare(case: Any, known: Known, ours: bool, topic: dict[str, str]) -> dict[str, str]:
    """Point `case` at what exists (when `ours`) and return the headers to send with it."""
    security = case.operation.definition.raw.get("security", [])
    schemes = [name for rule in security for name in rule]
    headers = {"Authorization": f"Bearer {TOKENS[schemes[0]]}"} if schemes else {}
    if not ours:
        return headers
    for name in case.path_parameters or {}:
        value = known.path_value(name, case.operation)
        if value is not None:
            case.path_parameters[name] = value
    if case.operation.path == PREVIEW:
        case.body, case.query = order(), {}  # an order the dry run goes all the way with
    if case.operation.path in SHOPS and case.media_type == "application/json":
        _, signature, topic_header = SHOPS[case.operation.path]
        raw = json.dumps(case.body).encode()
        case.body = raw  # sent as these bytes, so the signature covers them
        case.headers = {**(case.headers or {}), "Content-Type": "application/json"}
        case.headers.update({signature: sign(raw), topic_header: topic[case.operation.path]})
    return headers


def checks_for(label: str, response: Any) -> list[Any]:
    if label in ERP_ROUTES and response.status_code in (502, 503):
        if response.json()["error"]["code"] in ERP_CODES:
            return [c for c in CHECKS if c is not not_a_server_error]
    return CHECKS


def exercise(operation: Any, base_url: str, known: Known) -> Counter[int]:
    """`EXAMPLES` generated requests to one operation, each answer checked."""
    answered: Counter[int] = Counter()

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(),
        ours=st.booleans(),
        topic=st.fixed_dictionaries(
            {
                "/webhooks/shopify/{name}": st.sampled_from(sorted(SHOPIFY_TOPICS)),
                "/webhooks/woocommerce/{name}": st.sampled_from(sorted(WOO_TOPICS)),
            }
        ),
    )
    def request(case: Any, ours: bool, topic: dict[str, str]) -> None:
        headers = prepare(case, known, ours, topic)
        response = case.call(base_url=base_url, headers=headers)
        answered[response.status_code] += 1
        case.validate_response(
            response, checks=checks_for(operation.label, response), headers=headers
        )

    request()
    return answered


def test_every_operation_answers_as_published(api: Cluster) -> None:
    known = seed(api)
    base_url = str(api.http.base_url).rstrip("/")
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: op.method.upper() == "DELETE")  # drop the known letter last
    started = time.monotonic()
    answered = {op.label: exercise(op, base_url, known) for op in operations}
    elapsed = time.monotonic() - started
    for label, statuses in answered.items():
        print(f"{label}: {sum(statuses.values())} requests, {dict(sorted(statuses.items()))}")
    print(f"{sum(sum(s.values()) for s in answered.values())} requests in {elapsed:.1f} s")
    assert len(answered) == 17, sorted(answered)
    assert all(statuses for statuses in answered.values())
    # the known things were reached: some answers are not 404s
    assert (
        answered["GET /v1/jobs/{job_id}"][200]
        and answered["POST /v1/dead-letters/{letter_id}/replay"]
    )
