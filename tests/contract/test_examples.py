"""The example orders in `examples/` against what the intake publishes, in-process.

The intake is built from the example configuration with a fakeredis store and a list for
enqueued jobs (`tests.support.intake`); `/openapi.json` is read from it and its `$ref`s resolved
with `referencing`, so a schema FastAPI stops publishing (or publishes wrongly) fails here, as
does an example that no longer fits it. Every canonical example is posted (202 and one job
enqueued), every shop example is mapped and sent signed the way `examples/send_webhook.py` signs
it, and each error status the order route publishes is provoked and its answer checked against
the published error shape.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import fakeredis
import pytest

from connectors.shops.shopify.mapping import shopify_order
from connectors.shops.shopify.refund import shopify_refund
from connectors.shops.woocommerce.mapping import woocommerce_order
from schemas.order import Order
from simulators.sapera.catalogue import ACCOUNTS, DEMO_ACCOUNTS, DEMO_CATALOGUE
from tests.support.cluster import ROOT
from tests.support.intake import (
    AUTH,
    ORDERS_PATH,
    Intake,
    error_validator,
    order_validator,
    problems,
    published_document,
    settings,
    success_validator,
)

EXAMPLES = ROOT / "examples"
# Each canonical example and the connection of orderbridge.example.toml it is written for.
CANONICAL = {
    "poweroffice-order.json": "demo-poweroffice",
    "poweroffice-refund.json": "demo-poweroffice",
    "exact-order.json": "demo-exact",
    "duett-order.json": "demo-duett",
    "sapera-order.json": "demo-sapera",
}
SHOP = {
    "shopify-order.json": "demo-shopify",
    "shopify-refund.json": "demo-shopify",
    "woocommerce-order.json": "demo-woocommerce",
}


@pytest.fixture
def intake() -> Iterator[Intake]:
    app = Intake()
    with app.http:
        yield app


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return published_document()


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


# --- the published schema ---------------------------------------------------------------------


def test_the_order_schema_is_published_with_its_parts_and_credit_for(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    order = schemas["Order"]
    assert {"external_id", "currency", "customer", "lines"} <= set(order["required"])
    assert "credit_for" in order["properties"]
    for part in ("Customer", "Address", "ProductLine", "TextLine", "ShippingLine"):
        assert part in schemas, part
    assert "HTTPValidationError" not in schemas  # FastAPI's own 422 shape is never answered
    description = document["paths"][ORDERS_PATH]["post"]["requestBody"]["description"]
    assert "examples/" in description and "credit_for" in description


def test_the_schema_refuses_what_the_intake_refuses(document: dict[str, Any]) -> None:
    check = order_validator(document)
    body = json.loads(example("poweroffice-order.json"))
    assert problems(check, body) == []
    broken = {**body, "lines": [{**body["lines"][0], "quantity": "2", "vat_rate": 1.5}]}
    del broken["currency"]
    found = problems(check, broken)
    assert any("currency" in p for p in found), found
    assert any(p.startswith("lines/0") for p in found), found


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        (ORDERS_PATH, "post", (400, 401, 404, 413, 422, 503)),
        ("/webhooks/shopify/{name}", "post", (400, 401, 404, 413, 422, 503)),
        ("/webhooks/woocommerce/{name}", "post", (400, 401, 404, 413, 422, 503)),
        ("/v1/jobs/{job_id}", "get", (401, 404, 503)),
        ("/v1/dead-letters", "get", (401, 422, 503)),
    ],
)
def test_every_error_status_is_published_with_the_error_shape(
    document: dict[str, Any], path: str, method: str, statuses: tuple[int, ...]
) -> None:
    for status in statuses:
        check = error_validator(document, path, method, status)
        assert (
            problems(
                check,
                {
                    "error": {
                        "code": "x",
                        "message": "y",
                        "details": [{"field": "lines.0.sku", "message": "required"}],
                    }
                },
            )
            == []
        )
        assert problems(check, {"detail": "Not Found"}), "the error shape accepts anything"


# --- the examples -------------------------------------------------------------------------------


def test_examples_readme_lists_every_example_and_only_existing_ones() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    on_disk = {p.name for p in EXAMPLES.iterdir() if p.suffix in (".json", ".py")}
    assert on_disk == set(CANONICAL) | set(SHOP) | {"send_webhook.py"}
    named = set(re.findall(r"examples/([\w.-]+\.(?:json|py))", readme))
    assert named == on_disk


@pytest.mark.parametrize("name", sorted(CANONICAL))
def test_each_canonical_example_fits_the_schema_and_is_accepted(
    name: str, document: dict[str, Any], intake: Intake
) -> None:
    body = example(name)
    assert problems(order_validator(document), json.loads(body)) == []
    connection = CANONICAL[name]
    response = intake.post_order(connection, body)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["state"] == "queued"
    assert [job_id for _, job_id in intake.enqueued] == [answer["job_id"]]
    job = intake.rt.store.load_job(answer["job_id"])
    assert job is not None and job.connection == connection
    assert job.order is not None and job.order.credit_for == json.loads(body).get("credit_for")
    again = intake.post_order(connection, body)
    assert (again.status_code, again.json()["job_id"]) == (200, answer["job_id"])


def test_the_job_view_and_the_answer_publish_the_warnings(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    ok = document["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]["200"]
    view = ok["content"]["application/json"]["schema"]
    assert view == {"$ref": "#/components/schemas/JobAnswer"}
    for model in ("JobAnswer", "OrderAnswer"):
        warnings = schemas[model]["properties"]["warnings"]
        assert warnings["items"] == {"$ref": "#/components/schemas/Dropped"}, model
    assert set(schemas["Dropped"]["required"]) == {"field", "reason"}
    assert "order" not in schemas["JobAnswer"]["properties"]  # personal data stays out


@pytest.mark.parametrize("name", sorted(CANONICAL))
def test_each_answer_and_job_view_fit_what_is_published(
    name: str, document: dict[str, Any], intake: Intake
) -> None:
    """The 202 answer and `GET /v1/jobs/{id}` as published, the job's warnings in both."""
    response = intake.post_order(CANONICAL[name], example(name))
    answer = response.json()
    assert problems(success_validator(document, ORDERS_PATH, "post", 202), answer) == []
    view = intake.http.get(f"/v1/jobs/{answer['job_id']}", headers=AUTH).json()
    assert problems(success_validator(document, "/v1/jobs/{job_id}", "get", 200), view) == []
    assert view["warnings"] == answer["warnings"]


def test_the_sapera_example_warns_of_what_sapera_does_not_get(intake: Intake) -> None:
    answer = intake.post_order("demo-sapera", example("sapera-order.json")).json()
    fields = {w["field"] for w in answer["warnings"]}
    assert {"currency", "placed_at", "customer.billing_address"} <= fields


@pytest.mark.parametrize("name", sorted(CANONICAL))
def test_each_canonical_example_names_the_curl_command_that_sends_it(name: str) -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith(f"| `{name}`"))
    assert f"/v1/connections/{CANONICAL[name]}/orders" in row and f"-d @examples/{name}" in row, row


def test_the_refund_credits_the_order_example_within_its_total() -> None:
    order = Order.model_validate_json(example("poweroffice-order.json"))
    refund = Order.model_validate_json(example("poweroffice-refund.json"))
    assert refund.credit_for == order.external_id
    assert refund.computed_total <= order.computed_total
    assert {line.sku for line in refund.product_lines} <= {line.sku for line in order.product_lines}


def test_the_sapera_example_uses_the_demo_catalogue_at_or_below_its_prices() -> None:
    """Sapera refuses a SKU it does not know, a VAT rate other than the product's account's and
    a shop price above its own (README "Sapera")."""
    catalogue = {p["identifier"]: p for p in DEMO_CATALOGUE}
    vat = {number: rate for number, _, rate in (*ACCOUNTS, *DEMO_ACCOUNTS)}
    order = Order.model_validate_json(example("sapera-order.json"))
    for line in order.product_lines:
        product = catalogue[line.sku]
        assert line.vat_rate == vat[product["financialAccountNumber"]], line.sku
        assert line.unit_price <= product["salesPrice"], line.sku


def test_the_duett_example_passes_duetts_arithmetic_check_before_posting() -> None:
    from connectors.duett import mapping

    conn = settings().connections["demo-duett"]
    order = Order.model_validate_json(example("duett-order.json"))
    payload = mapping.order_payload(
        order, "3001", "1", {"KAFFE-500": "1", "KVERN-2": "2", "FRAKT": "3"}, conn.erp_settings
    )
    mapping.check_before_posting(order, payload.planned, conn.erp_settings.price_mode)


# --- shop payloads ------------------------------------------------------------------------------


def send_webhook_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("send_webhook", EXAMPLES / "send_webhook.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_shop_example_maps_to_a_canonical_order() -> None:
    order = shopify_order(json.loads(example("shopify-order.json")), fallback_sku="DIVERSE")
    refund = shopify_refund(
        json.loads(example("shopify-refund.json")), order, fallback_sku="DIVERSE"
    )
    woo = woocommerce_order(json.loads(example("woocommerce-order.json")), fallback_sku="DIVERSE")
    assert refund.credit_for == order.external_id
    assert refund.computed_total <= order.computed_total
    assert order.product_lines and woo.product_lines


def test_each_shop_example_is_accepted_when_signed_by_send_webhook(intake: Intake) -> None:
    sender = send_webhook_module()
    secrets = {
        name: intake.rt.settings.connections[name].shop.secrets()[0] for name in set(SHOP.values())
    }
    answers = {}
    for name in ("shopify-order.json", "shopify-refund.json", "woocommerce-order.json"):
        connection = SHOP[name]
        source = intake.rt.settings.connections[connection].source
        body = example(name)
        topic = sender.default_topic(source, body)
        response = intake.http.post(
            f"/webhooks/{source}/{connection}",
            content=body,
            headers=sender.webhook_headers(source, topic, body, secrets[connection]),
        )
        answers[name] = (topic, response.status_code, response.json().get("state"))
    assert answers == {
        "shopify-order.json": ("orders/create", 202, "accepted"),
        "shopify-refund.json": ("refunds/create", 202, "accepted"),
        "woocommerce-order.json": ("order.created", 202, "accepted"),
    }
    assert len(intake.enqueued) == 3
    # and a signature made with another secret is refused
    body = example("shopify-order.json")
    forged = sender.webhook_headers("shopify", "orders/create", body, b"not-the-secret")
    assert (
        intake.http.post("/webhooks/shopify/demo-shopify", content=body, headers=forged).status_code
        == 401
    )


# --- each published error, provoked -------------------------------------------------------------


def test_each_error_the_order_route_answers_has_the_published_shape(
    document: dict[str, Any], intake: Intake
) -> None:
    body = example("poweroffice-order.json")
    bad = json.loads(body)
    bad["lines"][0]["quantity"] = "0"
    too_big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    cases = {
        400: intake.post_order("demo-poweroffice", b"{not json"),
        401: intake.post_order("demo-poweroffice", body, Authorization="Bearer wrong"),
        404: intake.post_order("no-such-connection", body),
        413: intake.post_order("demo-poweroffice", too_big),
        422: intake.post_order("demo-poweroffice", json.dumps(bad).encode()),
    }
    for status, response in cases.items():
        assert response.status_code == status, (status, response.text)
        assert (
            problems(error_validator(document, ORDERS_PATH, "post", status), response.json()) == []
        ), status
    assert cases[422].json()["error"]["details"][0]["field"] == "lines.0.quantity"


def test_redis_away_is_a_published_503(document: dict[str, Any]) -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    with Intake(fakeredis.FakeRedis(server=server, decode_responses=True)).http as http:
        response = http.post(
            "/v1/connections/demo-poweroffice/orders",
            content=example("poweroffice-order.json"),
            headers=AUTH,
        )
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert problems(error_validator(document, ORDERS_PATH, "post", 503), response.json()) == []


def test_a_bad_query_parameter_and_an_unknown_path_answer_the_error_shape(
    document: dict[str, Any], intake: Intake
) -> None:
    response = intake.http.get("/v1/dead-letters", params={"limit": "many"}, headers=AUTH)
    assert response.status_code == 422
    assert (
        problems(error_validator(document, "/v1/dead-letters", "get", 422), response.json()) == []
    )
    assert response.json()["error"]["details"][0]["field"] == "query.limit"
    missing = intake.http.get("/v2/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
