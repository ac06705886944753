"""The OpenAPI 3.1 document of every function, generated from the routers' own declarations.

Every status an operation can answer is listed: the route's own (`status`, `also`, `errors`) and
what the router answers by itself, derived from the declaration (`router_statuses`). 405 is not an
answer of any operation (it is what a path answers to a method it has no operation for, with
`Allow`), so no operation lists it.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from sociallab.http.router import AuthKind, Route, Router
from sociallab.results import answered_fields

_REF = "#/components/schemas/{model}"
_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    204: "Done; no content",
    302: "Redirect to `Location`",
    400: "Malformed request: not JSON, nested too deep, an unreadable body or cursor",
    401: "Missing or invalid credentials",
    403: "Not a member of the workspace, or a lower role than the operation needs",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state",
    413: "The body is too large",
    415: "Unsupported media type",
    422: "Invalid fields, or valid ones that break a rule",
    429: "Rate limited; retry after `Retry-After` seconds",
    500: "Internal error",
    502: "An upstream service (Instagram, Drive) answered with an error",
    503: "A dependency (the database, an upstream API) is unavailable; retry shortly",
}
_AUTH_STATUSES: dict[AuthKind, set[int]] = {
    "user": {401, 403, 429},
    "scheduler": {401},
    "webhook": {401},
    "public": set(),
}
_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "user": [{"supabaseUser": []}],
    "scheduler": [{"scheduler": []}],
    "webhook": [{"webhookSecret": []}],
}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] = []
    request_id: str | None = None


class ErrorEnvelope(BaseModel):
    """Every error response: `{"error": {code, message, details, request_id}}` (`responses.error_response`)."""

    error: ErrorBody


def router_statuses(route: Route) -> set[int]:
    """The error statuses the router itself may answer for `route`, from its declaration."""
    statuses = {500, 503}
    for kind in route.auth:
        statuses |= _AUTH_STATUSES[kind]
    if route.body is not None or route.form is not None:
        statuses |= {400, 413, 415, 422}
    if route.query is not None or route.headers is not None or route.role is not None:
        statuses.add(422)
    if route.path_params:  # a value that does not fit the path (e.g. not a UUID) matches no route
        statuses.add(404)
    return statuses


def build(routers: list[Router], *, title: str = "SocialLab", version: str = "0.1.0") -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorEnvelope, "serialization")]
    results: list[type[Any]] = []  # response dataclasses (scheduled functions answer them without pydantic)
    for router in routers:
        for route in router.routes:
            models += [(m, "validation") for m in (route.body, route.query, route.headers, route.form) if m]
            if isinstance(route.response, type) and issubclass(route.response, BaseModel):
                models.append((route.response, "serialization"))
            elif route.response is not None:
                results.append(route.response)
    refs, schemas = models_json_schema(list(dict.fromkeys(models)), ref_template=_REF)
    components = schemas.get("$defs", {})
    for result in dict.fromkeys(results):
        refs[(result, "serialization")] = {"$ref": _REF.format(model=result.__name__)}
        schema = _result_schema(result)
        components |= schema.pop("$defs", {})  # a nested dataclass or enum of the result
        components[result.__name__] = schema

    paths: dict[str, dict[str, Any]] = {}
    for router in routers:
        for route in router.routes:
            operation: dict[str, Any] = {
                "operationId": f"{router.function}:{route.method.lower()}:{route.path}",
                "tags": [router.function],
                "summary": route.summary,
                "responses": _responses(route, refs),
            }
            parameters = _parameters(route, refs, components)
            if parameters:
                operation["parameters"] = parameters
            body = _request_body(route, refs, components)
            if body:
                operation["requestBody"] = body
            security = [requirement for kind in route.auth for requirement in _SECURITY.get(kind, [])]
            if security:  # alternatives: any one of them lets the caller in
                operation["security"] = security
            paths.setdefault(f"/{router.function}{route.openapi_path}", {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "supabaseUser": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "scheduler": {"type": "http", "scheme": "bearer"},
                "webhookSecret": {"type": "apiKey", "in": "header", "name": "X-Webhook-Secret"},
            },
        },
    }


def _result_schema(result: type[Any]) -> dict[str, Any]:
    """A response dataclass's schema: what `responses.response_fields` answers, every field always."""
    schema: dict[str, Any] = TypeAdapter(result).json_schema(mode="serialization", ref_template=_REF)
    answered = answered_fields(result)
    schema["properties"] = {name: schema["properties"][name] for name in answered}
    schema["required"] = answered
    return schema


def _resolved(model: type[BaseModel], refs: dict[Any, Any], components: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = components[refs[(model, "validation")]["$ref"].rsplit("/", 1)[1]]
    return schema


def _parameters(route: Route, refs: dict[Any, Any], components: dict[str, Any]) -> list[dict[str, Any]]:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"} if is_uuid else {"type": "string"},
        }
        for name, is_uuid in route.path_params.items()
    ]
    for location, model in (("query", route.query), ("header", route.headers)):
        if model is None:
            continue
        schema = _resolved(model, refs, components)
        required = set(schema.get("required", []))
        parameters += [
            {"name": name, "in": location, "required": name in required, "schema": prop}
            for name, prop in schema.get("properties", {}).items()
        ]
    return parameters


def _request_body(route: Route, refs: dict[Any, Any], components: dict[str, Any]) -> dict[str, Any] | None:
    for media_type, model in (("application/json", route.body), ("multipart/form-data", route.form)):
        if model is not None:
            schema = _resolved(model, refs, components)
            content: dict[str, Any] = {"schema": refs[(model, "validation")]}
            # A part's accepted media types (a field's `x-content-types`) go where OpenAPI wants them.
            encoding = {
                name: {"contentType": ", ".join(prop["x-content-types"])}
                for name, prop in schema.get("properties", {}).items()
                if "x-content-types" in prop
            }
            if encoding:
                content["encoding"] = encoding
            # An empty JSON body reads as `{}`, so a body is required only when a field is.
            return {"required": bool(schema.get("required")), "content": {media_type: content}}
    return None


def _responses(route: Route, refs: dict[Any, Any]) -> dict[str, Any]:
    success: dict[str, Any] = {}
    if route.response is not None:
        success["content"] = {"application/json": {"schema": refs[(route.response, "serialization")]}}
    if route.status == 302:
        success["headers"] = {"Location": {"required": True, "schema": {"type": "string"}}}
    responses: dict[str, Any] = {
        str(status): {"description": _description(status), **success} for status in (route.status, *route.also)
    }
    error = {"content": {"application/json": {"schema": refs[(ErrorEnvelope, "serialization")]}}}
    for status in sorted(router_statuses(route) | set(route.errors)):
        responses[str(status)] = {"description": _description(status), **error}
    if "429" in responses:
        responses["429"]["headers"] = {"Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 1}}}
    return responses


def _description(status: int) -> str:
    """What a status means here; any other valid HTTP status by its standard phrase (an invalid one raises)."""
    return _DESCRIPTIONS.get(status) or HTTPStatus(status).phrase
