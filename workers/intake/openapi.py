"""`/openapi.json`: FastAPI's document, made to say exactly what the intake does.

FastAPI sees neither the order body (parsed by hand, `workers.intake.orders`) nor the bearer
tokens (checked by hand, `workers.intake.http`), and it documents a 422 of its own shape on every
route with a parameter, though the intake answers every 422 with `ErrorBody` and only where a
route lists it. `publishing` adds the first two and removes the third, once per app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

# The bearer tokens the routes name in their `security`.
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "shopToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The connection's `api_token` (canonical order API).",
    },
    "operatorToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The `operator_token` (jobs, invoices, dead letters).",
    },
}
FASTAPI_422 = "#/components/schemas/HTTPValidationError"
FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")


def publishing(app: FastAPI, models: dict[str, type[BaseModel]]) -> Callable[[], dict[str, Any]]:
    """The app's `openapi()`: built once, with `models` (bodies parsed by hand) under
    `#/components/schemas/<name>`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            without_fastapi_422(document)
            components = document.setdefault("components", {})
            components["securitySchemes"] = SECURITY_SCHEMES
            add_models(components.setdefault("schemas", {}), models)
            app.openapi_schema = document
        return app.openapi_schema

    return openapi


def add_models(schemas: dict[str, Any], models: dict[str, type[BaseModel]]) -> None:
    for name, model in models.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for part, definition in {**schema.pop("$defs", {}), name: schema}.items():
            if schemas.get(part, definition) != definition:
                raise RuntimeError(f"two different schemas named {part} in the OpenAPI document")
            schemas[part] = definition


def without_fastapi_422(document: dict[str, Any]) -> None:
    """Drop the 422 FastAPI adds on its own (a shape the intake never answers)."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422", {})
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") == FASTAPI_422:
                del operation["responses"]["422"]
    schemas = document.get("components", {}).get("schemas", {})
    for name in FASTAPI_SCHEMAS:
        schemas.pop(name, None)
