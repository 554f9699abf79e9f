"""Liveness, and readiness that names each dependency."""

from __future__ import annotations


def test_ready_names_every_dependency_and_all_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "checks": {
        "postgres": "ok", "redis": "ok", "kafka": "ok", "search": "ok"}}
    assert client.get("/healthz").json() == {"status": "ok"}
