"""The OpenAPI document as the API answers: every error is application/problem+json."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from api.problems import PROBLEM_JSON

_PROBLEM = {"content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _header(description: str, example: str | None = None) -> dict:
    schema = {"type": "string"} | ({"example": example} if example else {})
    return {"description": description, "schema": schema}


# The response headers clients rely on, documented on the operations that send them (and
# readable by browser clients under CORS).
_REQUEST_ID = _header(
    "this request's id (the client's X-Request-ID if it sent one); in the "
    "logs of every process that handled it"
)
_RETRY_AFTER = _header("on 429 and 503: seconds to wait before trying again", "2")
_LOCATION = _header("where the created resource is read", "/api/v1/tweets/1234567890123456789")
_REPLAYED = _header(
    "`true` when a retry with the same Idempotency-Key got the first attempt's stored answer",
    "true",
)
_LINK = _header(
    'the next page (rel="next") and, on timelines, what is newer (rel="prev") (RFC 8288)',
    '<https://chirp.example/api/v1/timeline/home?cursor=AAA>; rel="next"',
)
_RATE_LIMIT = _header(
    "the actor's bucket after this write (draft-ietf-httpapi-ratelimit-"
    "headers): what remains and seconds until full",
    '"tweets";r=7;t=12',
)
_RATE_LIMIT_POLICY = _header("the bucket's quota and window in seconds", '"tweets";q=10;w=60')
EXPOSED_HEADERS = [
    "X-Request-ID",
    "Retry-After",
    "Location",
    "Idempotent-Replayed",
    "Link",
    "RateLimit",
    "RateLimit-Policy",
    "Chirp-Ranker-Model",
]
# Operations whose new writes draw from a bucket (api/rate_limits.py), by operationId: a
# user's, or for a sign-up the client address's.
RATE_LIMITED = {"postTweet", "retweet", "like", "follow", "register"}


def operation_id(route: APIRoute) -> str:
    """A route's operationId: its function's name in camelCase (`postTweet`, `homeTimeline`)."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def install_problem_openapi(app: FastAPI) -> None:
    """FastAPI documents error responses as application/json (and 422 as its own validation
    body); Chirp answers every error as a problem detail. This rewrites the document so: each
    documented 4xx/5xx is a Problem, and any other status an operation may answer (401, 413,
    415, 429, 503 ...) is covered by a `default` Problem response. And operations where a
    token is optional say so (`security: [{}, bearer]`)."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            for path, method in _optionally_authenticated(app):
                operation = schema["paths"][path][method]
                # A token is welcome (it personalises the answer), not required.
                operation["security"] = [{}, *operation.get("security", [])]
            for path in schema.get("paths", {}).values():
                for method, operation in path.items():
                    responses = operation.setdefault("responses", {})
                    if operation["operationId"] in RATE_LIMITED:
                        responses["429"] = {
                            "description": "Too many writes of this kind: wait for Retry-After"
                        }
                    for status, response in responses.items():
                        if status[0] in "45":
                            response.update(_PROBLEM)
                    responses["default"] = {
                        "description": "A problem detail (RFC 9457)",
                        **_PROBLEM,
                    }
                    _document_headers(method, operation)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's way to extend it


def _document_headers(method: str, operation: dict) -> None:
    paged = any(parameter["name"] == "cursor" for parameter in operation.get("parameters", []))
    writes = method in ("post", "delete") and operation["operationId"] != "login"
    for status, response in operation["responses"].items():
        headers = response.setdefault("headers", {})
        headers["X-Request-ID"] = _REQUEST_ID
        if status in ("429", "503", "default"):
            headers["Retry-After"] = _RETRY_AFTER
        if not status.startswith("2"):
            continue
        if status == "201":
            headers["Location"] = _LOCATION
        if writes:
            headers["Idempotent-Replayed"] = _REPLAYED
        if paged:
            headers["Link"] = _LINK
        if operation["operationId"] in RATE_LIMITED:
            headers["RateLimit"] = _RATE_LIMIT
            headers["RateLimit-Policy"] = _RATE_LIMIT_POLICY


def _optionally_authenticated(app: FastAPI) -> list[tuple[str, str]]:
    """(path, method) of the operations that take a token but do not require one."""
    from api.deps import optional_user

    def uses(dependant) -> bool:
        return any(
            dependency.call is optional_user or uses(dependency)
            for dependency in dependant.dependencies
        )

    def routes(items):  # FastAPI wraps each included router: look inside
        for item in items:
            inner = getattr(item, "original_router", None)
            yield from routes(inner.routes) if inner is not None else (item,)

    return [
        (route.path, method.lower())
        for route in routes(app.routes)
        if isinstance(route, APIRoute) and uses(route.dependant)
        for method in route.methods or ()
    ]
