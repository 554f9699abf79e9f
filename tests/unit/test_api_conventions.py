"""What app developers rely on, read from the API's own OpenAPI document and middleware
(no server: the app is built but not started)."""

from __future__ import annotations

import asyncio
import re

import httpx

from api.app import create_app
from infra.settings import Settings


def _spec() -> dict:
    return create_app(Settings()).openapi()


def test_operation_ids_are_unique_camel_case_names():
    ids = [
        operation["operationId"]
        for path in _spec()["paths"].values()
        for operation in path.values()
    ]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+([A-Z][a-z]*)*", operation_id) for operation_id in ids), ids
    assert {"postTweet", "homeTimeline", "userTimeline", "deleteTweet", "login"} <= set(ids)


def test_the_headers_clients_rely_on_are_documented_where_they_are_sent():
    paths = _spec()["paths"]
    posted = paths["/api/v1/tweets"]["post"]["responses"]
    assert {
        "Location",
        "Idempotent-Replayed",
        "RateLimit",
        "RateLimit-Policy",
        "X-Request-ID",
    } <= set(posted["201"]["headers"])
    assert posted["429"]["content"].keys() == {"application/problem+json"}
    assert "Retry-After" in posted["429"]["headers"] and "Retry-After" in posted["503"]["headers"]
    home = paths["/api/v1/timeline/home"]["get"]
    assert "Link" in home["responses"]["200"]["headers"]
    assert {"cursor", "since", "limit"} <= {p["name"] for p in home["parameters"]}
    assert "Idempotency-Key" in {p["name"] for p in paths["/api/v1/tweets"]["post"]["parameters"]}
    # An unlimited write documents no 429 of its own.
    assert "429" not in paths["/api/v1/tweets/{tweet_id}"]["delete"]["responses"]


def _options(app, headers: dict) -> httpx.Response:
    """An OPTIONS request answered in-process (the middleware answers it; nothing starts)."""

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chirp") as client:
            return await client.options("/api/v1/tweets", headers=headers)

    return asyncio.run(ask())


def test_cors_is_off_unless_origins_are_configured():
    origin = "https://app.example.com"
    preflight = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,idempotency-key",
    }
    closed = _options(create_app(Settings()), preflight)
    assert "access-control-allow-origin" not in closed.headers

    app = create_app(Settings(cors_origins=f"{origin}, http://localhost:5173"))
    answer = _options(app, preflight)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == origin
    assert "idempotency-key" in answer.headers["access-control-allow-headers"].lower()
    other = _options(app, preflight | {"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
