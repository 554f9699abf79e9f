"""The agents workers' registry on the real Valkey: a handover is answered only once every
live worker has paused; a worker that stopped cleanly is not waited for, and a killed one
only until its heartbeats are too old."""

from __future__ import annotations

import asyncio
import time
import uuid

from infra.redis_clients import async_redis
from projections.redis_agent_workers import RedisAgentWorkers
from projections.redis_keys import RedisKeys

TIMEOUT_SECONDS = 0.5


def test_a_handover_waits_for_every_live_worker_and_no_dead_or_departed_one(stack):
    async def scenario() -> None:
        client = async_redis(stack.settings)
        try:
            workers = RedisAgentWorkers(
                client, RedisKeys(f"workers-{uuid.uuid4().hex[:8]}:"), "group", TIMEOUT_SECONDS
            )
            for worker in ("a", "b", "c"):
                await workers.heartbeat(worker)
            assert await workers.live() == ["a", "b", "c"]
            await workers.pause("a", "read_model", 2)
            assert not await workers.all_paused("read_model", 2)
            await workers.leave("b")  # stopped cleanly
            assert await workers.live() == ["a", "c"]
            assert not await workers.all_paused("read_model", 2)
            # c was killed: it is waited for until its last heartbeat is too old.
            killed = time.monotonic()
            while not await workers.all_paused("read_model", 2):
                assert time.monotonic() - killed < 10 * TIMEOUT_SECONDS
                await workers.heartbeat("a")
                await asyncio.sleep(0.05)
            assert time.monotonic() - killed >= TIMEOUT_SECONDS * 0.8
            assert await workers.live() == ["a"]
            # A pause is for one generation: the next handover waits for a again.
            assert not await workers.all_paused("read_model", 3)
        finally:
            await client.aclose()

    asyncio.run(scenario())
