"""Each route of `/openapi.json` publishes the statuses it answers and their real content types,
checked in-process against what the intake does (`tests.support.intake`)."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest

from tests.support.cluster import ROOT
from tests.support.intake import AUTH, Intake, problems, published_document, validator

OPERATOR_ROUTES = [
    ("/v1/jobs/{job_id}", "get", {401, 404, 503}),
    ("/v1/jobs/{job_id}/invoice.pdf", "get", {401, 404, 503}),
    ("/v1/connections/{name}/invoices", "get", {401, 404, 422, 503}),
    ("/v1/connections/{name}/invoices/{invoice_id}/lines", "get", {401, 404, 502, 503}),
    ("/v1/dead-letters", "get", {401, 422, 503}),
    ("/v1/dead-letters/{letter_id}", "get", {401, 404, 503}),
    ("/v1/dead-letters/{letter_id}", "delete", {401, 404, 503}),
    ("/v1/dead-letters/{letter_id}/replay", "post", {401, 404, 409, 503}),
]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return published_document()


def statuses(document: dict[str, Any], path: str, method: str) -> set[int]:
    return {int(s) for s in document["paths"][path][method]["responses"]}


def media_types(document: dict[str, Any], path: str, method: str, status: int) -> set[str]:
    return set(document["paths"][path][method]["responses"][str(status)].get("content", {}))


@pytest.mark.parametrize(("path", "method", "errors"), OPERATOR_ROUTES)
def test_each_operator_route_publishes_its_errors_and_the_operator_token(
    document: dict[str, Any], path: str, method: str, errors: set[int]
) -> None:
    assert statuses(document, path, method) == {200} | errors
    assert document["paths"][path][method]["security"] == [{"operatorToken": []}]


def test_the_order_route_names_the_shop_token(document: dict[str, Any]) -> None:
    operation = document["paths"]["/v1/connections/{name}/orders"]["post"]
    assert operation["security"] == [{"shopToken": []}]
    assert set(document["components"]["securitySchemes"]) == {"shopToken", "operatorToken"}


def test_no_route_publishes_fastapis_own_422(document: dict[str, Any]) -> None:
    assert not {"HTTPValidationError", "ValidationError"} & set(document["components"]["schemas"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                assert "HTTPValidationError" not in str(answer), (path, method, status)


def test_the_invoice_pdf_is_published_as_a_pdf(document: dict[str, Any]) -> None:
    assert media_types(document, "/v1/jobs/{job_id}/invoice.pdf", "get", 200) == {"application/pdf"}


def test_a_job_and_its_invoice_pdf_are_answered_as_published(document: dict[str, Any]) -> None:
    intake = Intake()
    with intake.http:
        body = (ROOT / "examples" / "poweroffice-order.json").read_bytes()
        job_id = intake.post_order("demo-poweroffice", body).json()["job_id"]
        intake.rt.store.put_document(job_id, b"%PDF-1.7 not much of an invoice", 60)
        job = intake.http.get(f"/v1/jobs/{job_id}", headers=AUTH)
        pdf = intake.http.get(f"/v1/jobs/{job_id}/invoice.pdf", headers=AUTH)
    answers = document["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]["200"]["content"]
    assert job.status_code == 200
    assert problems(validator(document, answers["application/json"]["schema"]), job.json()) == []
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_metrics_are_published_and_served_as_prometheus_text(document: dict[str, Any]) -> None:
    (published,) = media_types(document, "/metrics", "get", 200)
    assert published == "text/plain; version=0.0.4; charset=utf-8"
    intake = Intake()
    with intake.http:
        response = intake.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == published
    assert "# TYPE orderbridge_orders_accepted_total counter" in response.text


def test_healthz_publishes_and_answers_503_when_redis_is_away(document: dict[str, Any]) -> None:
    assert statuses(document, "/healthz", "get") == {200, 503}
    server = fakeredis.FakeServer()
    server.connected = False
    with Intake(fakeredis.FakeRedis(server=server, decode_responses=True)).http as http:
        away = http.get("/healthz")
        jobs = http.get("/v1/jobs/some-job", headers=AUTH)
    assert away.status_code == 503 and away.json() == {"status": "unavailable", "redis": False}
    schema = document["paths"]["/healthz"]["get"]["responses"]["503"]["content"]
    assert problems(validator(document, schema["application/json"]["schema"]), away.json()) == []
    assert jobs.status_code == 503 and jobs.json()["error"]["code"] == "unavailable"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"offset": "-1"}, "query.offset"),
        ({"offset": str(2**64)}, "query.offset"),  # Redis refuses it as a range index
        ({"limit": "0"}, "query.limit"),
        ({"limit": "1001"}, "query.limit"),
    ],
)
def test_dead_letter_paging_out_of_range_is_a_422_naming_the_parameter(
    params: dict[str, str], field: str
) -> None:
    intake = Intake()
    with intake.http:
        response = intake.http.get("/v1/dead-letters", params=params, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == field


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a": ' * 50_000 + b"1" + b"}" * 50_000])
def test_json_nested_deeper_than_the_parser_goes_is_a_400_not_a_500(body: bytes) -> None:
    intake = Intake()
    with intake.http:
        response = intake.post_order("demo-poweroffice", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_json"
