"""Caller-supplied ids never choose another ERP resource than the route names (issue 17).

The invoice-lines route passes the id it is given on to the ERP. Over real HTTP, with the
PowerOffice simulator counting what reaches it: every hostile id answers 404 with the error
shape, and every call that reached the ERP asked for one invoice's lines, the id percent-encoded
as a single path segment (never another resource, never other query parameters)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

import httpx
import pytest

from tests.support.cluster import OPERATOR_TOKEN, Cluster

pytestmark = pytest.mark.e2e

# as they are written into the URL of our route (already percent-encoded where needed)
HOSTILE = [
    "0",
    "%18",
    "1%3FPageSize%3D1",
    "..%2Fx",
    "..",
    "%2E%2E",
    "x" * 300,
    "1%23frag",
    "1%2F..%2F..%2FCustomers",
    "%00",
    "1%20OR%201%3D1",
]


@pytest.fixture
def intake_only(cluster_factory: Callable[..., Cluster]) -> Cluster:
    cluster = cluster_factory()
    cluster.start_intake()
    return cluster


def test_hostile_invoice_ids_answer_404_and_never_reach_another_resource(
    intake_only: Cluster,
) -> None:
    before = len(intake_only.sim.calls()["calls"])
    raw = httpx.Client(
        base_url=str(intake_only.http.base_url),
        timeout=30,
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
    )
    for hostile in HOSTILE:
        response = raw.get(f"/v1/connections/shop/invoices/{hostile}/lines")
        assert response.status_code in (404, 422), (hostile, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json"), hostile
        assert set(response.json()["error"]) >= {"code", "message"}, (hostile, response.text)
    calls = [
        c for c in intake_only.sim.calls()["calls"][before:] if "token" not in c["endpoint"].lower()
    ]
    assert calls, "no id reached the ERP at all: the test would prove nothing"
    for call in calls:
        assert call["endpoint"] == "GET /OutgoingInvoices/{id}/Lines", call
        segment = call["path"].split("/OutgoingInvoices/", 1)[1].removesuffix("/Lines")
        assert "/" not in unquote(segment) or "%2F" in segment.upper(), call
        assert {part.split("=")[0] for part in call["query"].split("&")} == {
            "PageSize",
            "PageNumber",
        }, call  # only the connector's own paging


# Routes whose ids name our own records (jobs, dead letters): looked up in Redis, never passed
# to an ERP or a shop. Each answers 404 or 422 with the error shape, and the ERP sees nothing.
OWN_RECORD_ROUTES = [
    ("GET", "/v1/jobs/{id}"),
    ("GET", "/v1/jobs/{id}/invoice.pdf"),
    ("GET", "/v1/dead-letters/{id}"),
    ("POST", "/v1/dead-letters/{id}/replay"),
    ("DELETE", "/v1/dead-letters/{id}"),
]


def test_hostile_ids_of_our_own_records_answer_404_and_call_no_erp(intake_only: Cluster) -> None:
    before = len(intake_only.sim.calls()["calls"])
    raw = httpx.Client(
        base_url=str(intake_only.http.base_url),
        timeout=30,
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
    )
    for method, route in OWN_RECORD_ROUTES:
        for hostile in HOSTILE:
            response = raw.request(method, route.replace("{id}", hostile))
            where = (method, route, hostile[:20])
            assert response.status_code in (404, 422), (*where, response.status_code)
            assert response.headers["content-type"].startswith("application/json"), where
            assert set(response.json()["error"]) >= {"code", "message"}, (*where, response.text)
    assert intake_only.sim.calls()["calls"][before:] == []
