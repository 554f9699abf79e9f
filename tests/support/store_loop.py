"""A private event loop with a PostgreSQL pool and a Redis client on the test stack, for tests
that drive the projections' async code directly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from projections.read_models import redis_client


@contextmanager
def store_loop(settings) -> Iterator[tuple[asyncio.AbstractEventLoop, AsyncConnectionPool, Redis]]:
    """(loop, pool, redis), all closed on the way out."""
    loop = asyncio.new_event_loop()

    async def open_all():
        pool = AsyncConnectionPool(settings.postgres, min_size=1, max_size=4, open=False)
        await pool.open(wait=True)
        return pool, redis_client(settings)

    pool, redis = loop.run_until_complete(open_all())
    try:
        yield loop, pool, redis
    finally:
        loop.run_until_complete(redis.aclose())
        loop.run_until_complete(pool.close())
        loop.close()
