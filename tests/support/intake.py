"""The intake in-process for contract tests: the app built from the example configuration on a
fakeredis store, and validators for schemas taken from the `/openapi.json` it publishes (their
`$ref`s resolved against the whole document with `referencing`)."""

from __future__ import annotations

import warnings
from typing import Any

import fakeredis
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from core.runtime import Runtime
from core.settings import Settings, load_settings
from core.store import Store
from tests.support.cluster import ROOT
from workers.intake import create_app

with warnings.catch_warnings():  # starlette prefers httpx2; the repo keeps one client, httpx
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ORDERS_PATH = "/v1/connections/{name}/orders"
AUTH = {"Authorization": "Bearer demo-token"}  # every token of the example configuration


def settings() -> Settings:
    return load_settings(str(ROOT / "orderbridge.example.toml"), env={})


class Intake:
    """The intake app over a fakeredis store; `enqueued` lists (task, job id) a worker's
    dispatcher sends of what the intake accepted."""

    def __init__(self, redis: fakeredis.FakeRedis | None = None) -> None:
        self._sent: list[tuple[str, str]] = []
        store = Store(redis or fakeredis.FakeRedis(decode_responses=True))
        self.rt = Runtime(
            settings(), store, enqueue=lambda name, job_id: self._sent.append((name, job_id))
        )
        self.http = TestClient(create_app(self.rt), base_url="http://127.0.0.1")

    @property
    def enqueued(self) -> list[tuple[str, str]]:
        self.rt.dispatch()
        return self._sent

    def post_order(self, connection: str, body: bytes, **headers: str) -> Any:
        return self.http.post(
            f"/v1/connections/{connection}/orders",
            content=body,
            headers={**AUTH, "Content-Type": "application/json", **headers},
        )


def validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for a schema taken from the OpenAPI document, its `#/components/...`
    references resolved against the whole document."""
    registry: Registry[Any] = Registry().with_resource(
        "urn:openapi", DRAFT202012.create_resource(document)
    )
    return Draft202012Validator(
        {"$ref": "urn:openapi#" + pointer_of(document, schema)}, registry=registry
    )


def pointer_of(document: dict[str, Any], schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    assert ref.startswith("#/components/schemas/"), f"expected a component reference: {schema}"
    assert ref.rsplit("/", 1)[1] in document["components"]["schemas"], f"{ref} is not published"
    return str(ref[1:])


def order_validator(document: dict[str, Any]) -> Draft202012Validator:
    body = document["paths"][ORDERS_PATH]["post"]["requestBody"]
    assert body["required"] is True
    return validator(document, body["content"]["application/json"]["schema"])


def error_validator(
    document: dict[str, Any], path: str, method: str, status: int
) -> Draft202012Validator:
    responses = document["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} does not publish {status}"
    return validator(document, responses[str(status)]["content"]["application/json"]["schema"])


def published_document() -> dict[str, Any]:
    with Intake().http as http:
        response = http.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def problems(check: Draft202012Validator, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in check.iter_errors(instance)
    ]


def success_validator(
    document: dict[str, Any], path: str, method: str, status: int
) -> Draft202012Validator:
    """The published schema of a route's JSON answer with `status`."""
    response = document["paths"][path][method]["responses"][str(status)]
    return validator(document, response["content"]["application/json"]["schema"])
