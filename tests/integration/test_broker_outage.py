"""Writes while the broker is down answer 503 fast, and are not lost: each committed with its
event in the outbox, and takes effect once the broker is back; a retry with its
Idempotency-Key gets its answer, and a second registration of the username is refused."""

from __future__ import annotations

import shutil
import time
import uuid

import httpx
import psycopg
import pytest

from infra.servers import KafkaServer
from infra.settings import Settings
from operations.stack import LocalStack
from streams.admin import ensure_topics
from streams.topics import topic_registry
from tests.conftest import TEST_PASSWORD_COST, new_data_dir
from tests.support.clients import PASSWORD, eventually, register, unique_username

PRODUCE_TIMEOUT_MS = 2000


@pytest.mark.slow
def test_writes_fail_fast_while_the_broker_is_down_and_recover_after(stack):
    # Its own broker, so stopping it disturbs no other test; PostgreSQL and Redis are shared.
    settings = Settings(
        data_dir=new_data_dir(),
        redis_url=stack.settings.redis,
        postgres_dsn=stack.settings.postgres,
        jwt_secret="outage-test-secret",
    )
    local = LocalStack(settings, ephemeral=True)
    local.start()
    try:
        base_url = local.start_api(
            CHIRP_PRODUCE_TIMEOUT_MS=str(PRODUCE_TIMEOUT_MS),
            # No archive agent reads this broker: acknowledged events leave the outbox at once.
            CHIRP_OUTBOX_UNTIL_ARCHIVED="false",
            **TEST_PASSWORD_COST,
        )
        client = httpx.Client(base_url=base_url, timeout=30)
        user = register(client, "out")
        [kafka] = local.servers
        kafka.process.stop()

        key = str(uuid.uuid4())
        with psycopg.connect(settings.postgres) as conn:  # this test's events come after it
            first_event = conn.execute(
                "SELECT coalesce(max(event_id), 0) FROM write_model.unconfirmed_events"
            ).fetchone()[0]
        started = time.monotonic()
        refused = client.post(
            "/api/v1/tweets",
            json={"content": "lost?"},
            headers=user.auth | {"Idempotency-Key": key},
        )
        waited = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"]
        assert waited < PRODUCE_TIMEOUT_MS / 1000 + 2, f"answered after {waited:.1f}s"

        username = unique_username("outr")
        registration = client.post(
            "/api/v1/users",
            json={"username": username, "display_name": "Late", "password": PASSWORD},
        )
        assert registration.status_code == 503
        assert client.get("/readyz", params={"role": "writes"}).status_code == 503
        # Reads go on without the broker: the load balancer's probe keeps this API in.
        assert client.get("/readyz").status_code == 200

        # The broker comes back (empty: it keeps events in memory only) on the same port.
        revived = KafkaServer(kafka.port, local.data_dir)
        local.servers.append(revived)
        revived.start()
        ensure_topics(revived.bootstrap, topic_registry(local.settings))

        deadline = time.monotonic() + 30
        retried = None
        while time.monotonic() < deadline:
            retried = client.post(
                "/api/v1/tweets",
                json={"content": "lost?"},
                headers=user.auth | {"Idempotency-Key": key},
            )
            if retried.status_code == 201:
                break
            time.sleep(0.5)
        # The post was kept (answered "write unconfirmed"); the retry delivers it, once.
        assert refused.json()["type"].endswith("write-unconfirmed"), refused.text
        assert retried is not None and retried.status_code == 201, retried.text
        assert retried.headers.get("idempotent-replayed") == "true"
        # The registration was kept too: the relay delivers it, the account works, and the
        # username is taken.
        assert registration.json()["type"].endswith("write-unconfirmed"), registration.text

        def outbox_empty() -> bool:
            with psycopg.connect(settings.postgres) as conn:
                return (
                    conn.execute(
                        "SELECT count(*) FROM write_model.unconfirmed_events WHERE event_id > %s",
                        (first_event,),
                    ).fetchone()[0]
                    == 0
                )

        assert eventually(outbox_empty, timeout=30)
        login = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert login.status_code == 200, login.text
        again = client.post(
            "/api/v1/users",
            json={"username": username, "display_name": "Later", "password": PASSWORD},
        )
        assert again.status_code == 409
        client.close()
    finally:
        local.stop()
        shutil.rmtree(settings.data_dir, ignore_errors=True)
