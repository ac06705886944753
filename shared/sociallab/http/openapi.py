"""The OpenAPI 3.1 document of every function, generated from the routers' own pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from sociallab.http.responses import ErrorEnvelope
from sociallab.http.router import Router

_REF = "#/components/schemas/{model}"
_ERRORS = {
    "user": {"401": "Missing or invalid token", "403": "Not a member of the workspace", "429": "Rate limited"},
    "scheduler": {"401": "Not the scheduler"},
    "webhook": {"401": "Wrong webhook secret"},
    "public": {},
}
_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "user": [{"supabaseUser": []}],
    "scheduler": [{"scheduler": []}],
    "webhook": [{"webhookSecret": []}],
}


def build(routers: list[Router], *, title: str = "SocialLab", version: str = "0.1.0") -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorEnvelope, "serialization")]
    for router in routers:
        for route in router.routes:
            models += [(m, "validation") for m in (route.body, route.query) if m is not None]
            if route.response is not None:
                models.append((route.response, "serialization"))
    refs, schemas = models_json_schema(list(dict.fromkeys(models)), ref_template=_REF)

    paths: dict[str, dict[str, Any]] = {}
    for router in routers:
        for route in router.routes:
            operation: dict[str, Any] = {
                "operationId": f"{router.function}:{route.method.lower()}:{route.path}",
                "tags": [router.function],
                "summary": route.summary,
                "responses": _responses(route, refs),
            }
            parameters = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in route.pattern.groupindex
            ]
            if route.query is not None:
                schema = route.query.model_json_schema()
                required = set(schema.get("required", []))
                parameters += [
                    {"name": name, "in": "query", "required": name in required, "schema": prop}
                    for name, prop in schema.get("properties", {}).items()
                ]
            if parameters:
                operation["parameters"] = parameters
            if route.body is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
                }
            security = [requirement for kind in route.auth for requirement in _SECURITY.get(kind, [])]
            if security:  # alternatives: any one of them lets the caller in
                operation["security"] = security
            paths.setdefault(f"/{router.function}{route.openapi_path}", {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "supabaseUser": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "scheduler": {"type": "http", "scheme": "bearer"},
                "webhookSecret": {"type": "apiKey", "in": "header", "name": "X-Webhook-Secret"},
            },
        },
    }


def _responses(route: Any, refs: dict[Any, Any]) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": refs[(ErrorEnvelope, "serialization")]}}}
    success: dict[str, Any] = {"description": "OK"}
    if route.response is not None:
        success["content"] = {"application/json": {"schema": refs[(route.response, "serialization")]}}
    responses: dict[str, Any] = {str(route.status): success}
    for status, text in {k: v for kind in route.auth for k, v in _ERRORS[kind].items()}.items():
        responses[status] = {"description": text, **error}
    if route.body is not None or route.query is not None:
        responses["400"] = {"description": "Malformed request", **error}
        responses["422"] = {"description": "The request breaks a rule", **error}
    responses["500"] = {"description": "Internal error", **error}
    return responses
