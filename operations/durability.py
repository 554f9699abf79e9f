"""A local stack's event log across restarts.

The local broker keeps events only in memory. The archive (streams/archive.py) keeps every
event in PostgreSQL, so:
- **on start**, an empty log is written back from the archive, partition by partition in
  log order, before any agent reads it;
- **on stop**, once the API has stopped taking writes, the stack waits until the archive
  agent has read every partition to its end, so nothing the API acknowledged is lost.

The restored log gets new offsets (records the archive left out, such as poison records,
leave no gap). The read models' positions are carried over by event id: each read model
records the id of the last event it applied per partition beside its offset, and the
restore finds those events again, so the agents resume where they stopped instead of
applying the whole history again.
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

from commands.postgres_write_model import PostgresWriteModel
from infra.kafka_security import kafka_python_security
from infra.redis_clients import async_redis
from infra.settings import Settings
from projections import targets
from projections.redis_keys import RedisKeys
from projections.targets import ReadModel, group_of
from streams.admin import log_end_offsets
from streams.archive import PostgresArchive
from streams.topics import TopicRegistry

log = logging.getLogger("chirp.durability")

PROGRESS_EVERY = 20_000


class RestoreFailed(RuntimeError):
    """The broker did not take back every archived event."""


def restore_log(
    settings: Settings, registry: TopicRegistry, say: Callable[[str], None] = print
) -> int:
    """Write the archive back onto the broker if its event topics are empty; return how many
    events were restored (0 when the log was not empty or the archive is)."""
    ends = log_end_offsets(
        settings.bootstrap_servers, registry.event_topics(), kafka_python_security(settings)
    )
    if any(ends.values()):
        return 0
    return asyncio.run(_restore(settings, registry, say))


async def _restore(settings: Settings, registry: TopicRegistry, say) -> int:
    names = {topic.name.removeprefix(registry.prefix): topic for topic in registry.event_topics()}
    pool = AsyncConnectionPool(settings.postgres, min_size=1, max_size=2, open=False)
    await pool.open(wait=True, timeout=30)
    redis = async_redis(settings)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        batch_size=1 << 20,
        client_id="chirp-restore",
        **kafka_python_security(settings),
    )
    failures: list[BaseException] = []
    restored, started = 0, time.monotonic()
    try:
        if resent := await PostgresWriteModel(
            pool, settings.archive_schema
        ).send_acknowledged_again():
            say(f"  {resent:,} acknowledged events the archive missed: sent again from the outbox")
        live = await targets.current(pool, settings)
        keys = RedisKeys(live.core_prefix, root=settings.redis_prefix)
        recorded = {
            group: await _recorded(redis, keys, group)
            for group in (
                group_of(live, ReadModel.CORE),
                group_of(live, ReadModel.SEARCH),
                group_of(live, ReadModel.NOTIFICATIONS),
                group_of(live, "media"),  # or every upload is processed again
            )
        }
        wanted = {event_id for places in recorded.values() for event_id in places.values()}
        # Each partition is written in archive order from offset 0: an event's new offset is
        # how many of its partition's events were written before it.
        written: dict[tuple[str, int], int] = {}
        found: dict[int, tuple[tuple[str, int], int]] = {}
        archive = PostgresArchive(pool, settings.archive_schema)
        async for event in archive.events():
            topic = names.get(event.topic)
            if topic is None or event.partition >= topic.partitions:
                raise RestoreFailed(
                    f"archived event {event.event_id} belongs to {event.topic}[{event.partition}],"
                    f" which this stack's topics ({sorted(names)}, {settings.partitions}"
                    " partitions) do not have"
                )
            place = (topic.name, event.partition)
            if event.event_id in wanted:
                found[event.event_id] = (place, written.get(place, 0))
            written[place] = written.get(place, 0) + 1
            producer.send(
                topic.name, value=event.value, key=event.key, partition=event.partition
            ).add_errback(failures.append)
            restored += 1
            if restored % PROGRESS_EVERY == 0:
                rate = restored / (time.monotonic() - started)
                say(f"  restored {restored:,} events ({rate:,.0f}/s)")
        producer.flush()
        if failures:
            raise RestoreFailed(
                f"{len(failures)} archived events were not acknowledged by the"
                f" broker (first: {failures[0]!r})"
            )
        if restored:
            await _carry_positions(redis, keys, archive, registry, recorded, found, written)
    finally:
        producer.close()
        await redis.aclose()
        await pool.close()
    return restored


async def _recorded(redis: Redis, keys: RedisKeys, group: str) -> dict[tuple[str, int], int]:
    """The last event a group applied per partition, where its position is recorded."""
    # redis-py types the async client's replies as sync ones too
    raw = await redis.hgetall(keys.applied_events(group))  # type: ignore[misc]
    events = {}
    for field, event_id in raw.items():
        topic, partition = field.decode().rsplit(":", 1)
        if await redis.exists(keys.position(group, topic, int(partition))):
            events[(topic, int(partition))] = int(event_id)
    return events


async def _carry_positions(
    redis: Redis,
    keys: RedisKeys,
    archive: PostgresArchive,
    registry: TopicRegistry,
    recorded: dict,
    found: dict,
    written: dict[tuple[str, int], int],
) -> None:
    """Positions in the restored log's offsets, so that the agents resume where they were.

    Offsets recorded against the old log mean nothing in the new one, so every position is
    dropped, then set again where it can be found: at the new offset of the last event a
    read model applied (by id). An applied event the archive did not hold was the newest of
    its partition, so everything restored there had been applied. The archive has read all
    it restored. The writes readers wait for, and the positions of groups that record no
    event id (trends: its topic is not archived), are not carried: those start over."""
    for pattern in keys.log_position_patterns():
        async for key in redis.scan_iter(match=pattern, count=1000):
            if b"applied-events:" not in key:
                await redis.delete(key)
    for group, places in recorded.items():
        for place, event_id in places.items():
            new_place, offset = found.get(event_id, (place, written.get(place, 0) - 1))
            if new_place == place and offset >= 0:
                await redis.set(keys.position(group, *place), offset)
    prefix = registry.prefix
    await archive.reset_positions(
        {
            (topic.removeprefix(prefix), partition): count - 1
            for (topic, partition), count in written.items()
        }
    )


def wait_until_archived(settings: Settings, registry: TopicRegistry, timeout: float = 30.0) -> bool:
    """Wait until the archive agent has read every event partition to its end; False if it
    had not after `timeout` seconds. Call it once nothing writes to the log any more."""
    ends = {
        (topic.removeprefix(registry.prefix), partition): end
        for (topic, partition), end in log_end_offsets(
            settings.bootstrap_servers, registry.event_topics(), kafka_python_security(settings)
        ).items()
        if end > 0
    }
    deadline = time.monotonic() + timeout
    with psycopg.connect(settings.postgres, autocommit=True) as conn:
        while True:
            rows = conn.execute(
                f'SELECT topic, partition, "offset" FROM {settings.archive_schema}.positions'
            ).fetchall()
            read = {(topic, partition): offset for topic, partition, offset in rows}
            behind = {place: end for place, end in ends.items() if read.get(place, -1) < end - 1}
            if not behind:
                return True
            if time.monotonic() > deadline:
                log.error(
                    "the archive is behind the log in %s after %.0fs", sorted(behind), timeout
                )
                return False
            time.sleep(0.1)
