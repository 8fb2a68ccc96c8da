"""The dry run as its users reach it: `POST /v1/connections/{name}/preview` and `orderbridge
preview`, on the intake and the CLI over a fakeredis store, with Sapera's simulator (in-process,
over HTTP) as the ERP. What each ERP's stand-in predicts is tested beside it
(`test_preview_<erp>.py`); here: the report's shape, the answers for what cannot be previewed,
that nothing is written, and that every registered ERP has a stand-in.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.registry import CONNECTORS
from core.runtime import Runtime
from core.settings import Settings, parse_settings
from simulators.sapera import create_app
from tests.support.config import OPERATOR_TOKEN, sapera_connection
from tests.support.factories import order, product_line
from tests.support.fakes import fake_store
from tests.support.sim_server import simulator_fixtures
from workers import cli
from workers.intake import create_app as create_intake

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

server_fixture, sim_fixture = simulator_fixtures(create_app)
EXAMPLE = Path(__file__).parents[2] / "examples" / "sapera-order.json"
AUTH = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
TOKEN_CALLS = ("/Authentication/Login", "/authentication/loginWithRefreshToken")


def settings(server: str) -> Settings:
    return parse_settings(
        {
            "orderbridge": {"operator_token": OPERATOR_TOKEN},
            "connections": {"sap": sapera_connection(server, send_invoice=True)},
        },
        env={},
    )


@pytest.fixture(name="rt")
def rt_fixture(server: str) -> Runtime:
    return Runtime(settings(server), fake_store(), enqueue=lambda *_: None)


@pytest.fixture(name="intake")
def intake_fixture(rt: Runtime) -> TestClient:
    return TestClient(create_intake(rt), base_url="http://127.0.0.1")


def writes_seen(sim: httpx.Client) -> list[str]:
    """The calls the simulator got that are neither queries nor the login."""
    return [
        f"{c['method']} {c['path']}"
        for c in sim.get("/_sim/calls").json()["calls"]
        if not c["path"].endswith(TOKEN_CALLS)
        and "/Get" not in c["path"]
        and "/query" not in c["path"].lower()
    ]


def test_every_registered_erp_has_a_stand_in() -> None:
    missing = [name for name, spec in CONNECTORS.items() if spec.stand_in is None]
    assert not missing, f"no dry run for {missing}: add connectors/<erp>/rehearsal.py"


def test_a_preview_shows_each_step_and_writes_nothing(
    intake: TestClient, sim: httpx.Client
) -> None:
    body = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    answer = intake.post("/v1/connections/sap/preview", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["verdict"] == "would_send"
    assert [s["step"] for s in report["steps"]] == [
        "upsert_customer",
        "upsert_products",
        "check_duplicate",
        "create_draft",
        "send_invoice",
    ]
    created = report["steps"][3]
    assert created["outcome"] == "would_send" and created["writes"], created
    assert report["shop_amounts"]["lines_total"] == "1206.10"
    assert report["erp_amounts"]["total"] == "1206.10"
    assert report["reads"] > 0
    assert writes_seen(sim) == []
    assert sim.get("/_sim/state").json()["salesOrders"] == []


def test_a_refusal_is_shown_with_the_step_and_the_message(
    intake: TestClient, sim: httpx.Client
) -> None:
    wrong_rate = product_line("SAP-AVIS", "1", "25.00", vat_rate="0.25", name="Avis")
    answer = intake.post(
        "/v1/connections/sap/preview", json=order(lines=[wrong_rate]), headers=AUTH
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["verdict"] == "would_refuse"
    (refusal,) = report["refusals"]
    assert refusal["kind"] == "permanent" and refusal["message"], refusal
    assert refusal["step"] in {"upsert_products", "create_draft"}
    assert writes_seen(sim) == []


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "code"),
    [
        ("/v1/connections/sap/preview", order(), {}, 401, "unauthorized"),
        ("/v1/connections/nope/preview", order(), AUTH, 404, "unknown_connection"),
        ("/v1/connections/sap/preview", {"lines": []}, AUTH, 422, "validation_failed"),
        ("/v1/connections/sap/preview", [1], AUTH, 422, "validation_failed"),
        ("/v1/connections/sap/preview", order(credit_for="1"), AUTH, 422, "not_supported"),
        ("/v1/connections/sap/preview?source=shopify", {"id": "x"}, AUTH, 422, "unusable_order"),
    ],
)
def test_what_cannot_be_previewed_gets_a_clear_4xx(
    intake: TestClient, path: str, body: Any, headers: dict[str, str], status: int, code: str
) -> None:
    answer = intake.post(path, json=body, headers=headers)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and error["message"]


def test_the_cli_prints_the_preview_and_exits_by_verdict(
    rt: Runtime,
    sim: httpx.Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "load_settings", lambda: rt.settings)
    monkeypatch.setattr(cli, "_runtime", lambda _: rt)
    assert cli.main(["preview", "--connection", "sap", str(EXAMPLE)]) == 0
    shown = capsys.readouterr().out
    assert "would be sent" in shown and "CreateSalesOrder" in shown
    assert "nothing was written" in shown
    refused = tmp_path / "refused.json"
    wrong = product_line("SAP-AVIS", "1", "25.00", vat_rate="0.25", name="Avis")
    refused.write_text(json.dumps(order(lines=[wrong])), encoding="utf-8")
    assert cli.main(["preview", "--connection", "sap", "--json", str(refused)]) == 3
    assert json.loads(capsys.readouterr().out)["verdict"] == "would_refuse"
    assert writes_seen(sim) == []
