"""Flower shows orders: a real worker, a real `orderbridge flower`, and Flower's HTTP API.

An operator (or a script) finds an order's tasks by its reference, sees its connection and step
in the task's keyword arguments, and reads in the task's result which steps the delivery ran.
The worker starts with task events off: `orderbridge flower` switches them on.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w

from tests.support.cluster import Cluster, poll
from tests.support.factories import three_line_order
from workers.processes import Child, free_port, port_open, spawn, wait_until

pytestmark = pytest.mark.e2e

AUTH_VAR = "OB_TEST_FLOWER_AUTH"
CREDENTIALS = ("ops", "flower-test-password")


class Flower:
    def __init__(self, child: Child, port: int, auth: tuple[str, str] | None) -> None:
        self.child, self.port = child, port
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5, auth=auth)

    def watching(self) -> bool:
        """Flower has heard a worker's heartbeat: it receives events (and has enabled them)."""
        response = self.http.get("/workers", params={"json": 1})
        return response.status_code == 200 and any(w.get("status") for w in response.json()["data"])

    def tasks_of(self, reference: str) -> list[dict[str, Any]]:
        """The finished tasks whose keyword arguments name `reference` (found by Flower's
        search, checked here again on the parsed keyword arguments)."""
        response = self.http.get("/api/tasks", params={"search": f"kwargs:reference={reference}"})
        response.raise_for_status()
        found = []
        for task in response.json().values():
            kwargs = ast.literal_eval(task.get("kwargs") or "{}")
            if kwargs.get("reference") == reference and task.get("state") == "SUCCESS":
                found.append({**task, "kwargs": kwargs})
        return found


@pytest.fixture
def start_flower(cluster: Cluster) -> Iterator[Any]:
    started: list[Flower] = []

    def start(basic_auth: bool) -> Flower:
        port = free_port()
        env = {k: v for k, v in cluster.env.items() if not k.startswith("FLOWER_")}
        if basic_auth:  # the cluster's configuration, plus the variable naming the credentials
            config = tomllib.loads(cluster.config.read_text())
            config["orderbridge"]["flower_basic_auth_env"] = AUTH_VAR
            path = Path(cluster.tmp / "orderbridge-flower.toml")
            path.write_text(tomli_w.dumps(config))
            env.update(ORDERBRIDGE_CONFIG=str(path), **{AUTH_VAR: ":".join(CREDENTIALS)})
        child = spawn(
            "flower", ["flower", "--port", str(port)], env, str(cluster.tmp / f"flower-{port}.log")
        )
        flower = Flower(child, port, CREDENTIALS if basic_auth else None)
        started.append(flower)
        wait_until(lambda: port_open(port), 15, "Flower's port", children=[child])
        poll(flower.watching, 10, 0.2, "Flower to hear the worker")
        return flower

    yield start
    for flower in started:
        flower.http.close()
        flower.child.stop()


def post_and_find(cluster: Cluster, flower: Flower, reference: str) -> dict[str, Any]:
    cluster.wait_final(cluster.accept(three_line_order(reference)), timeout=20)
    [task] = poll(lambda: flower.tasks_of(reference), 10, 0.2, f"Flower to show {reference}")
    return task


def test_flower_with_basic_auth_finds_an_order_by_reference(
    cluster: Cluster, start_flower: Any
) -> None:
    flower = start_flower(basic_auth=True)
    # Without the credentials (or with wrong ones) neither the API nor the pages answer
    for auth in (None, ("ops", "wrong")):
        with httpx.Client(base_url=flower.http.base_url, timeout=5, auth=auth) as anonymous:
            assert anonymous.get("/api/tasks").status_code == 401
            assert anonymous.get("/tasks").status_code == 401
    task = post_and_find(cluster, flower, "FL-7001")
    # The task is recognisable: its step, connection and reference, and no personal data
    assert task["name"] == "orderbridge.upsert_customer"
    assert task["kwargs"] == {
        "job_id": task["kwargs"]["job_id"],
        "connection": "shop",
        "reference": "FL-7001",
        "step": "upsert_customer",
    }
    text = repr(task)
    assert "Kari" not in text and "example.no" not in text
    # Its result says what the delivery actually ran (all of the pipeline, inline)
    assert (
        "shop FL-7001: upsert_customer → upsert_products → check_duplicate → create_draft: "
        "finished as done (4 steps)" in task["result"]
    )


def test_flower_without_auth_on_loopback_answers_scripts(
    cluster: Cluster, start_flower: Any
) -> None:
    # No FLOWER_* variable reaches the child: `orderbridge flower` opens the API itself
    flower = start_flower(basic_auth=False)
    task = post_and_find(cluster, flower, "FL-7002")
    assert task["kwargs"]["connection"] == "shop"
    assert "finished as done (4 steps)" in task["result"]
