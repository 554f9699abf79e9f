"""Writes while the broker is down answer 503 fast. One never sent leaves nothing behind; one
sent and not acknowledged is kept and takes effect once the broker is back, and a retry
with its Idempotency-Key gets its answer."""

from __future__ import annotations

import shutil
import time
import uuid

import httpx
import psycopg
import pytest

from infra.settings import Settings
from infra.servers import KafkaServer
from infra.stack import LocalStack
from streams.admin import ensure_topics
from infra.bootstrap import topic_registry
from tests.conftest import TEST_PASSWORD_COST, new_data_dir
from tests.support.clients import PASSWORD, register, unique_username

PRODUCE_TIMEOUT_MS = 2000


@pytest.mark.slow
def test_writes_fail_fast_while_the_broker_is_down_and_recover_after(stack):
    # Its own broker, so stopping it disturbs no other test; PostgreSQL and Redis are shared.
    settings = Settings(data_dir=new_data_dir(), redis_url=stack.settings.redis,
                        postgres_dsn=stack.settings.postgres, jwt_secret="outage-test-secret")
    local = LocalStack(settings, ephemeral=True)
    local.start()
    try:
        base_url = local.start_api(CHIRP_PRODUCE_TIMEOUT_MS=str(PRODUCE_TIMEOUT_MS),
                                   **TEST_PASSWORD_COST)
        client = httpx.Client(base_url=base_url, timeout=30)
        user = register(client, "out")
        [kafka] = local.servers
        kafka.process.stop()

        key = str(uuid.uuid4())
        started = time.monotonic()
        refused = client.post("/api/v1/tweets", json={"content": "lost?"},
                              headers=user.auth | {"Idempotency-Key": key})
        waited = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"]
        assert waited < PRODUCE_TIMEOUT_MS / 1000 + 2, f"answered after {waited:.1f}s"

        username = unique_username("outr")
        registration = client.post("/api/v1/users", json={
            "username": username, "display_name": "Late", "password": PASSWORD})
        assert registration.status_code == 503
        assert client.get("/readyz").status_code == 503

        # The broker comes back (empty: it keeps events in memory only) on the same port.
        revived = KafkaServer(kafka.port, local.data_dir)
        local.servers.append(revived)
        revived.start()
        ensure_topics(revived.bootstrap, topic_registry(local.settings))

        deadline = time.monotonic() + 30
        retried = None
        while time.monotonic() < deadline:
            retried = client.post("/api/v1/tweets", json={"content": "lost?"},
                                  headers=user.auth | {"Idempotency-Key": key})
            if retried.status_code == 201:
                break
            time.sleep(0.5)
        # The post had been sent when the broker died: it was kept (answered "write
        # unconfirmed"), and the retry finds it delivered now, once.
        assert refused.json()["type"].endswith("write-unconfirmed"), refused.text
        assert retried is not None and retried.status_code == 201, retried.text
        assert retried.headers.get("idempotent-replayed") == "true"
        with psycopg.connect(settings.postgres) as conn:
            assert conn.execute("SELECT count(*) FROM write_model.unconfirmed_events"
                                " WHERE actor = %s", (f"user:{user.user_id}",)).fetchone()[0] == 0
        # The registration was never sent (no broker to send it to): the username is free.
        registration = client.post("/api/v1/users", json={
            "username": username, "display_name": "Late", "password": PASSWORD})
        assert registration.status_code == 201
        client.close()
    finally:
        local.stop()
        shutil.rmtree(settings.data_dir, ignore_errors=True)
