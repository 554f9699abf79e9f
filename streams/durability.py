"""A local stack's event log across restarts.

The local broker keeps events only in memory. The archive (streams/archive.py) keeps every
event in PostgreSQL, so:
- **on start**, an empty log is written back from the archive, partition by partition in
  log order, before any agent reads it;
- **on stop**, once the API has stopped taking writes, the stack waits until the archive
  agent has read every partition to its end, so nothing the API acknowledged is lost.

The restored log gets new offsets (records the archive left out, such as poison records,
leave no gap), so positions recorded against the old log are dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import psycopg
from kafka import KafkaProducer
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from infra.settings import Settings
from projections.redis_keys import RedisKeys
from streams.admin import log_end_offsets
from streams.archive import PostgresArchive
from streams.topics import TopicRegistry

log = logging.getLogger("chirp.durability")

PROGRESS_EVERY = 20_000


class RestoreFailed(RuntimeError):
    """The broker did not take back every archived event."""


def restore_log(settings: Settings, registry: TopicRegistry,
                say: Callable[[str], None] = print) -> int:
    """Write the archive back onto the broker if its event topics are empty; return how many
    events were restored (0 when the log was not empty or the archive is)."""
    ends = log_end_offsets(settings.bootstrap_servers, registry.event_topics())
    if any(ends.values()):
        return 0
    return asyncio.run(_restore(settings, registry, say))


async def _restore(settings: Settings, registry: TopicRegistry, say) -> int:
    names = {topic.name.removeprefix(registry.prefix): topic for topic in registry.event_topics()}
    pool = AsyncConnectionPool(settings.postgres, min_size=1, max_size=2, open=False)
    await pool.open(wait=True, timeout=30)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                             enable_idempotence=True, linger_ms=20, batch_size=1 << 20,
                             client_id="chirp-restore")
    failures: list[BaseException] = []
    restored, started = 0, time.monotonic()
    try:
        archive = PostgresArchive(pool, settings.archive_schema)
        async for event in archive.events():
            topic = names.get(event.topic)
            if topic is None or event.partition >= topic.partitions:
                raise RestoreFailed(
                    f"archived event {event.event_id} belongs to {event.topic}[{event.partition}],"
                    f" which this stack's topics ({sorted(names)}, {settings.partitions}"
                    " partitions) do not have")
            producer.send(topic.name, value=event.value, key=event.key,
                          partition=event.partition).add_errback(failures.append)
            restored += 1
            if restored % PROGRESS_EVERY == 0:
                say(f"  restored {restored:,} events ({restored / (time.monotonic() - started):,.0f}/s)")
        producer.flush()
        if failures:
            raise RestoreFailed(f"{len(failures)} archived events were not acknowledged by the"
                                f" broker (first: {failures[0]!r})")
        if restored:
            await _forget_positions(settings, archive)
    finally:
        producer.close()
        await pool.close()
    return restored


async def _forget_positions(settings: Settings, archive: PostgresArchive) -> None:
    """Positions (and the writes readers wait for) refer to the old log's offsets."""
    await archive.reset_positions()
    keys = RedisKeys(settings.redis_prefix)
    redis = Redis.from_url(settings.redis)
    try:
        for pattern in keys.log_position_patterns():
            async for key in redis.scan_iter(match=pattern, count=1000):
                await redis.delete(key)
    finally:
        await redis.aclose()


def wait_until_archived(settings: Settings, registry: TopicRegistry,
                        timeout: float = 30.0) -> bool:
    """Wait until the archive agent has read every event partition to its end; False if it
    had not after `timeout` seconds. Call it once nothing writes to the log any more."""
    ends = {(topic.removeprefix(registry.prefix), partition): end for (topic, partition), end
            in log_end_offsets(settings.bootstrap_servers, registry.event_topics()).items()
            if end > 0}
    deadline = time.monotonic() + timeout
    with psycopg.connect(settings.postgres, autocommit=True) as conn:
        while True:
            rows = conn.execute(f'SELECT topic, partition, "offset" FROM'
                                f" {settings.archive_schema}.positions").fetchall()
            read = {(topic, partition): offset for topic, partition, offset in rows}
            behind = {place: end for place, end in ends.items() if read.get(place, -1) < end - 1}
            if not behind:
                return True
            if time.monotonic() > deadline:
                log.error("the archive is behind the log in %s after %.0fs", sorted(behind), timeout)
                return False
            time.sleep(0.1)
