"""The intake over real HTTP: bad input gets the right 4xx and nothing is enqueued."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tests.support.cluster import SHOP_TOKEN, Cluster
from tests.support.factories import order, product_line
from workers.processes import free_port, port_open, spawn, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def intake_only(cluster_factory: Callable[..., Cluster]) -> Cluster:
    cluster = cluster_factory()
    cluster.start_intake()
    return cluster


def nothing_enqueued(cluster: Cluster) -> None:
    assert cluster.queued("shop") == 0
    assert cluster.store.redis.zcard("ob:adm:wait:shop") == 0
    assert not list(cluster.store.redis.scan_iter("ob:job:*"))


def post_raw(cluster: Cluster, body: bytes, token: str = SHOP_TOKEN) -> httpx.Response:
    return cluster.http.post(
        "/v1/connections/shop/orders",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def test_accepts_and_repeats(intake_only: Cluster) -> None:
    body = order("9001")
    first = intake_only.post_order(body)
    assert first.status_code == 202
    assert first.json()["state"] == "queued"
    again = intake_only.post_order(body)
    assert again.status_code == 200 and again.json()["job_id"] == first.json()["job_id"]
    # one place in the wait set for admission (no worker runs here), not two
    assert intake_only.store.redis.zcard("ob:adm:wait:shop") == 1
    job = intake_only.operator("GET", f"/v1/jobs/{first.json()['job_id']}").json()
    assert job["state"] == "queued" and job["external_id"] == "9001"
    assert [s["name"] for s in job["steps"]] == [
        "upsert_customer",
        "upsert_products",
        "check_duplicate",
        "create_draft",
        "send_invoice",
    ]
    assert "order" not in job  # no personal data in the job view


@pytest.mark.parametrize(
    "body, status, code, field",
    [
        (b"{not json", 400, "invalid_json", None),
        (b"[1, 2]", 422, "validation_failed", "body"),
        (
            json.dumps({k: v for k, v in order().items() if k != "customer"}).encode(),
            422,
            "validation_failed",
            "customer",
        ),
        (
            json.dumps(order(lines=[product_line("A", quantity="-2")])).encode(),
            422,
            "validation_failed",
            "lines.0.quantity",
        ),
        (
            json.dumps(order(lines=[product_line("A", "1", "10.00")], total="99.00")).encode(),
            422,
            "validation_failed",
            "total",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    intake_only: Cluster, body: bytes, status: int, code: str, field: str | None
) -> None:
    response = post_raw(intake_only, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    if field:
        assert field in {d["field"] for d in error["details"]}
    nothing_enqueued(intake_only)


def test_wrong_or_missing_token_is_401(intake_only: Cluster) -> None:
    assert intake_only.post_order(order(), token="wrong").status_code == 401
    assert intake_only.http.post("/v1/connections/shop/orders", json=order()).status_code == 401
    assert intake_only.http.get("/v1/dead-letters").status_code == 401
    nothing_enqueued(intake_only)


def test_unknown_connection_is_404(intake_only: Cluster) -> None:
    assert intake_only.post_order(order(), connection="nope").status_code == 404
    nothing_enqueued(intake_only)


def test_body_over_one_mebibyte_is_413(intake_only: Cluster) -> None:
    body = json.dumps({**order(), "padding": "x" * (2 * 1024 * 1024)}).encode()
    assert post_raw(intake_only, body).status_code == 413

    def chunks():  # no Content-Length: the limit holds while streaming too
        for _ in range(40):
            yield b" " * 65536

    streamed = intake_only.http.post(
        "/v1/connections/shop/orders",
        content=chunks(),
        headers={"Authorization": f"Bearer {SHOP_TOKEN}"},
    )
    assert streamed.status_code == 413
    nothing_enqueued(intake_only)


def test_health_and_metrics(intake_only: Cluster) -> None:
    assert intake_only.http.get("/healthz").json() == {"status": "ok", "redis": True}
    intake_only.post_order(order("9101"))
    metrics = intake_only.http.get("/metrics").text
    assert "orderbridge_jobs_created_total 1.0" in metrics
    assert intake_only.http.get("/openapi.json").status_code == 200


def test_redis_down_is_503(tmp_path, intake_only: Cluster) -> None:
    # Given an intake whose Redis does not answer
    port = free_port()
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    env = {**intake_only.env, "ORDERBRIDGE_REDIS_URL": dead_redis}
    config = intake_only.config.read_text().replace(
        f"port = {intake_only.intake_port}", f"port = {port}"
    )
    (tmp_path / "down.toml").write_text(config)
    env["ORDERBRIDGE_CONFIG"] = str(tmp_path / "down.toml")
    child = spawn("intake-down", ["intake"], env, str(tmp_path / "down.log"))
    try:
        wait_until(lambda: port_open(port), 20, "the intake", children=[child])
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/connections/shop/orders",
            json=order(),
            headers={"Authorization": f"Bearer {SHOP_TOKEN}"},
            timeout=30,
        )
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "unavailable"
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 503
    finally:
        child.stop()
