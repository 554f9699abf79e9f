"""The event archive on the real PostgreSQL: once per event id, partitioned by month, in log
order, old schema versions kept as they were."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import orjson
from psycopg_pool import AsyncConnectionPool

from operations.migrate import upgrade
from operations.migrations.schema_sets import archive as archive_schema_set
from schemas import events as ev
from streams.archive import PostgresArchive, Record, month_bounds
from streams.ids import SnowflakeIds

NOVEMBER = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _run(stack, steps):
    schema = f"archive_{uuid.uuid4().hex[:8]}"
    upgrade(stack.settings.postgres, archive_schema_set(schema))

    async def go():
        pool = AsyncConnectionPool(stack.settings.postgres, min_size=1, max_size=2, open=False)
        await pool.open(wait=True)
        try:
            archive = PostgresArchive(pool, schema)
            return await steps(archive, pool)
        finally:
            await pool.close()

    return asyncio.run(go())


def _ids_at(moment: datetime, count: int) -> list[int]:
    ids = SnowflakeIds(1, clock=lambda: moment.timestamp())
    return [ids.next_id() for _ in range(count)]


def _follow(event_id: int, at: datetime, follower: int, followee: int) -> bytes:
    return ev.encode(
        ev.UserFollowed(
            event_id=event_id,
            occurred_at=at,
            actor_id=follower,
            follower_id=follower,
            followee_id=followee,
        )
    )


def test_each_event_is_archived_once_in_log_order_and_positions_pass_poison(stack):
    november, december = _ids_at(NOVEMBER, 3), _ids_at(NOVEMBER + timedelta(days=15), 1)
    # Partition 1 of follows in log order: ids out of order across workers must not reorder it.
    log = [
        Record("follows", 1, 0, b"7", _follow(november[2], NOVEMBER, 7, 8)),
        Record("follows", 1, 1, b"7", _follow(november[0], NOVEMBER, 7, 9)),
        Record("follows", 1, 2, b"7", b"{not an event"),
        Record("follows", 0, 0, b"4", _follow(december[0], NOVEMBER + timedelta(days=15), 4, 5)),
    ]

    async def steps(archive: PostgresArchive, pool):
        rejected = await archive.append(log)
        # Redelivered, with the next record: nothing twice.
        again = [log[1], Record("follows", 1, 3, b"7", _follow(november[1], NOVEMBER, 7, 10))]
        await archive.append(again)
        events = [event async for event in archive.events()]
        async with pool.connection() as conn:
            parts = await (
                await conn.execute(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                    " JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n"
                    " ON n.oid = p.relnamespace WHERE p.relname = 'events' AND n.nspname = %s"
                    " ORDER BY 1",
                    (archive.schema,),
                )
            ).fetchall()
        return rejected, events, await archive.positions(), [name for (name,) in parts]

    rejected, events, positions, partitions = _run(stack, steps)
    assert [(record.offset, "not an event envelope" in why) for record, why in rejected] == [
        (2, True)
    ]
    assert [(e.topic, e.partition, e.event_id) for e in events] == [
        ("follows", 0, december[0]),
        ("follows", 1, november[2]),
        ("follows", 1, november[0]),
        ("follows", 1, november[1]),
    ]
    assert events[1].value == log[0].value and events[1].key == b"7"
    assert positions == {("follows", 1): 3, ("follows", 0): 0}
    assert partitions == ["events_2026_11", "events_2026_12"]


def test_an_old_schema_version_is_kept_as_it_was_and_upcast_when_read(stack):
    at = NOVEMBER
    event_id = _ids_at(at, 1)[0]
    v1 = orjson.dumps(
        {
            "event_id": str(event_id),
            "type": "TweetPosted",
            "schema_version": 1,
            "occurred_at": at.isoformat(),
            "actor_id": "5",
            "payload": {
                "tweet_id": str(event_id),
                "author_id": "5",
                "content": "old #Python tweet for @bob",
                "reply_to": None,
            },
        }
    )

    async def steps(archive: PostgresArchive, pool):
        await archive.append([Record("tweets", 2, 0, b"5", v1)])
        return [event async for event in archive.events(start=at, end=at + timedelta(seconds=1))]

    (archived,) = _run(stack, steps)
    assert (archived.schema_version, archived.value) == (1, v1)
    upcast = ev.decode(archived.value)
    assert isinstance(upcast, ev.TweetPosted)
    assert (upcast.hashtags, upcast.mentions) == (("python",), ("bob",))


def test_a_month_partition_holds_exactly_the_ids_made_in_that_month():
    low, high = month_bounds(2026, 12)
    before, first, last = (
        _ids_at(datetime(2026, 11, 30, 23, 59, 59, 999_000, tzinfo=UTC), 1)[0],
        _ids_at(datetime(2026, 12, 1, tzinfo=UTC), 1)[0],
        _ids_at(datetime(2026, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC), 1)[0],
    )
    assert before < low <= first and last < high
    assert month_bounds(2026, 11)[1] == low
