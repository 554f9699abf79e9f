"""Liveness, and readiness that names each dependency and says which groups of routes can
answer: with Redis down, writes stay ready (and a post, a sign-up and a login still succeed,
their limits on) while reads and search do not, and the load balancer's probe keeps the API
in."""

from __future__ import annotations

import time

import httpx
import pytest

from infra.servers import RedisServer
from tests.conftest import own_stack
from tests.support.clients import PASSWORD, eventually, post, register
from tests.support.figures import report_figure

EVERYTHING_READY = {"writes": "ready", "reads": "ready", "search": "ready"}
LOGIN_FAILURES = 3
# Limits on, as in production: they use Redis, and must let writes through without it.
LIMITS = {
    "CHIRP_RATE_LIMIT_TWEETS_PER_MINUTE": "10",
    "CHIRP_SIGNUP_PER_IP_PER_HOUR": "20",
    "CHIRP_LOGIN_FAILURES_PER_USERNAME": str(LOGIN_FAILURES),
}


def test_ready_names_every_dependency_and_all_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"postgres": "ok", "redis": "ok", "kafka": "ok", "search": "ok"},
        "roles": EVERYTHING_READY,
    }
    for role in EVERYTHING_READY:
        assert client.get("/readyz", params={"role": role}).status_code == 200
    unknown = client.get("/readyz", params={"role": "everything"})
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    assert client.get("/healthz").json() == {"status": "ok"}


def _login(client: httpx.Client, username: str, password: str = PASSWORD) -> int:
    return client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    ).status_code


@pytest.mark.slow
def test_with_redis_down_writes_stay_ready_and_reads_do_not():
    with own_stack(**LIMITS) as (stack, base_url):
        redis = next(server for server in stack.servers if isinstance(server, RedisServer))
        with httpx.Client(base_url=base_url, timeout=30) as client:
            user, other = register(client, "rdown"), register(client, "rdown")
            redis.process.stop()
            try:
                readiness = client.get("/readyz")
                by_role = {
                    role: client.get("/readyz", params={"role": role}).status_code
                    for role in EVERYTHING_READY
                }
                started = time.monotonic()
                post(client, user, "written while Redis is down")
                write_seconds = time.monotonic() - started
                register(client, "rdown")
                logged_in = _login(client, user.username)
                # The login limits count in the API process while Redis is away.
                failures = [_login(client, other.username, "wrong") for _ in range(LOGIN_FAILURES)]
                locked = _login(client, other.username)
            finally:
                redis.start()
            back = eventually(
                lambda: client.get("/readyz", params={"role": "reads"}).status_code == 200,
                timeout=15,
                interval=0.2,
            )

    report_figure(f"Redis stopped: a write answered 201 in {write_seconds:.2f}s")
    assert readiness.status_code == 200, readiness.text
    body = readiness.json()
    assert body["checks"]["redis"].startswith("failing")
    assert {name: state for name, state in body["checks"].items() if name != "redis"} == {
        "postgres": "ok",
        "kafka": "ok",
        "search": "ok",
    }
    assert body["roles"] == {"writes": "ready", "reads": "not ready", "search": "not ready"}
    assert by_role == {"writes": 200, "reads": 503, "search": 503}
    assert logged_in == 200
    assert failures == [401] * LOGIN_FAILURES and locked == 429
    assert back, "reads did not become ready again once Redis was back"
