"""A write the broker does not acknowledge is answered 503 and leaves nothing behind."""

from __future__ import annotations

import shutil
import time
import uuid

import httpx
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
        # The refused attempt stored nothing: its key was free, and so is the username.
        assert retried is not None and retried.status_code == 201, retried.text
        assert "idempotent-replayed" not in retried.headers
        registration = client.post("/api/v1/users", json={
            "username": username, "display_name": "Late", "password": PASSWORD})
        assert registration.status_code == 201
        client.close()
    finally:
        local.stop()
        shutil.rmtree(settings.data_dir, ignore_errors=True)
