"""The OpenAPI document as the API answers: every error is application/problem+json."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.openapi.utils import get_openapi

from api.problems import PROBLEM_JSON

_PROBLEM = {"content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def install_problem_openapi(app: FastAPI) -> None:
    """FastAPI documents error responses as application/json (and 422 as its own validation
    body); Chirp answers every error as a problem detail. This rewrites the document so: each
    documented 4xx/5xx is a Problem, and any other status an operation may answer (401, 413,
    415, 429, 503 ...) is covered by a `default` Problem response. And operations where a
    token is optional say so (`security: [{}, bearer]`)."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            for path, method in _optionally_authenticated(app):
                operation = schema["paths"][path][method]
                # A token is welcome (it personalises the answer), not required.
                operation["security"] = [{}, *operation.get("security", [])]
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    responses = operation.setdefault("responses", {})
                    for status, response in responses.items():
                        if status[0] in "45":
                            response.update(_PROBLEM)
                    responses["default"] = {"description": "A problem detail (RFC 9457)",
                                            **_PROBLEM}
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def _optionally_authenticated(app: FastAPI) -> list[tuple[str, str]]:
    """(path, method) of the operations that take a token but do not require one."""
    from api.deps import optional_user

    def uses(dependant) -> bool:
        return any(dependency.call is optional_user or uses(dependency)
                   for dependency in dependant.dependencies)

    def routes(items):  # FastAPI wraps each included router: look inside
        for item in items:
            inner = getattr(item, "original_router", None)
            yield from routes(inner.routes) if inner is not None else (item,)

    return [(route.path, method.lower()) for route in routes(app.routes)
            if isinstance(route, APIRoute) and uses(route.dependant)
            for method in route.methods]
