"""The event archive: every event of the log, kept durably in PostgreSQL.

Kafka keeps events for a limited time and the local broker only in memory; the archive keeps
them all, so replay can read beyond retention and a local stack can restore its log.

- **One row per event**, keyed by `event_id`: a redelivered event is archived once.
- **Partitioned by time.** Event ids are Snowflake ids (milliseconds, worker, sequence), so
  the table is range-partitioned by `event_id` with one partition per calendar month (UTC) of
  the ids' time, created as events arrive. Ids made by no Chirp worker (small test ids) fall
  in the month of the id epoch.
- **As it was on the log.** The record's key and value bytes are kept unchanged, with the
  envelope's fields beside them for queries: an old `schema_version` stays old in the
  archive, and readers upcast it when they decode it.
- **Log order.** `seq` numbers events in the order the archive agent read them: each
  partition in order, so ordering by `seq` within a (topic, partition) is log order, across
  restores too (a restored event keeps its first `seq`).
- **Schema.** `events` and `positions` are made and changed by the revisions in
  operations/migrations/archive/ (`chirp migrate`, docs/migrations.md); the monthly
  partitions are made here, as events arrive.
- **Positions.** How far the archive agent has read each partition, poison records
  included: a stopping local stack waits on them so that nothing acknowledged is lost.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from psycopg_pool import AsyncConnectionPool

from schemas.types import parse_id
from streams.ids import id_time, lowest_id_at


@dataclass(frozen=True)
class Record:
    """A record as read from the log, in the shape the agents' apply loop reads (the archive
    takes `topic` without the deployment's prefix)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True)
class ArchivedEvent:
    event_id: int
    occurred_at: datetime
    type: str
    schema_version: int
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def envelope_columns(value: bytes) -> tuple[int, datetime, str, int] | str:
    """The archive's columns of an event (id, time, type, schema version), or why the record
    is not an event envelope. Only these four fields are read: the whole event is decoded
    and validated by the projections (schemas/events.decode), and validating every envelope
    in full here cost the archive a third of its time."""
    try:
        data = orjson.loads(value)
        version, kind = data["schema_version"], data["type"]
        if not (
            isinstance(data["payload"], dict)
            and isinstance(kind, str)
            and isinstance(version, int)
            and version >= 1
        ):
            return "not an event envelope: its type, schema_version or payload is malformed"
        return (
            parse_id(data["event_id"]),
            datetime.fromisoformat(data["occurred_at"]),
            kind,
            version,
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        return f"not an event envelope: {type(error).__name__}: {error}"


def month_of(event_id: int) -> tuple[int, int]:
    moment = id_time(event_id)
    return moment.year, moment.month


def month_bounds(year: int, month: int) -> tuple[int, int]:
    """The event ids of one month's partition: [first, next month's first)."""
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return lowest_id_at(start), lowest_id_at(end)


class PostgresArchive:
    """The archive's tables in `schema`; the archive agent appends, replay and export read."""

    def __init__(self, pool: AsyncConnectionPool, schema: str = "archive") -> None:
        self.pool = pool
        self.schema = schema
        self._months: set[tuple[int, int]] = set()

    async def append(self, records: list[Record]) -> list[tuple[Record, str]]:
        """Archive `records` (once each, by event id) and advance the positions past all of
        them; return the ones that are not events, with why: they are not archived."""
        rows, rejected = [], []
        for record in records:
            envelope = envelope_columns(record.value)
            if isinstance(envelope, str):
                rejected.append((record, envelope))
            else:
                rows.append((envelope, record))
        positions: dict[tuple[str, int], int] = {}
        for record in records:
            place = (record.topic, record.partition)
            positions[place] = max(positions.get(place, -1), record.offset)
        async with self.pool.connection() as conn, conn.transaction():
            await self._ensure_partitions(conn, {month_of(envelope[0]) for envelope, _ in rows})
            if rows:
                columns = list(
                    zip(
                        *[
                            (
                                *envelope,
                                record.topic,
                                record.partition,
                                record.offset,
                                record.key,
                                record.value,
                            )
                            for envelope, record in rows
                        ],
                        strict=True,
                    )
                )
                # In the order given (log order within each partition), so `seq` follows it.
                await conn.execute(
                    f"INSERT INTO {self.schema}.events (event_id, occurred_at, type,"
                    ' schema_version, topic, partition, "offset", key, value)'
                    " SELECT e, o, t, v, tp, p, off, k, val FROM unnest("
                    "%b::bigint[], %b::timestamptz[], %b::text[], %b::int[], %b::text[],"
                    " %b::int[], %b::bigint[], %b::bytea[], %b::bytea[])"
                    " WITH ORDINALITY AS r(e, o, t, v, tp, p, off, k, val, n) ORDER BY n"
                    " ON CONFLICT (event_id) DO NOTHING",
                    [list(column) for column in columns],
                )
            if positions:
                places = list(positions.items())
                await conn.execute(
                    f'INSERT INTO {self.schema}.positions (topic, partition, "offset")'
                    " SELECT * FROM unnest(%b::text[], %b::int[], %b::bigint[])"
                    ' ON CONFLICT (topic, partition) DO UPDATE SET "offset" ='
                    f' greatest({self.schema}.positions."offset", excluded."offset")',
                    (
                        [topic for (topic, _), _ in places],
                        [p for (_, p), _ in places],
                        [offset for _, offset in places],
                    ),
                )
        return rejected

    async def _ensure_partitions(self, conn, months: set[tuple[int, int]]) -> None:
        missing = months - self._months
        if not missing:
            return
        # One creator at a time: two agents creating the same partition would collide.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.schema}.events",))
        for year, month in sorted(missing):
            low, high = month_bounds(year, month)
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.schema}.events_{year:04}_{month:02}"
                f" PARTITION OF {self.schema}.events FOR VALUES FROM ({low}) TO ({high})"
            )
        self._months |= missing

    async def positions(self) -> dict[tuple[str, int], int]:
        async with self.pool.connection() as conn:
            return await self.positions_in(conn)

    async def reset_positions(self, positions: dict[tuple[str, int], int] | None = None) -> None:
        """Replace the positions (they refer to a log that has been replaced, by a restore)
        with `positions`, or with none."""
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(f"DELETE FROM {self.schema}.positions")
            if positions:
                await conn.execute(
                    f'INSERT INTO {self.schema}.positions (topic, partition, "offset")'
                    " SELECT * FROM unnest(%b::text[], %b::int[], %b::bigint[])",
                    [
                        [topic for topic, _ in positions],
                        [p for _, p in positions],
                        list(positions.values()),
                    ],
                )

    async def events(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        topics: list[str] | None = None,
    ) -> AsyncGenerator[ArchivedEvent, None]:
        """Archived events in log order per (topic, partition), optionally those that
        occurred in [start, end) or belong to `topics`; streamed, not loaded at once."""
        async with self.pool.connection() as conn, conn.transaction():
            async for event in self.events_in(conn, start, end, topics):
                yield event

    async def events_in(
        self,
        conn,
        start: datetime | None = None,
        end: datetime | None = None,
        topics: list[str] | None = None,
    ) -> AsyncGenerator[ArchivedEvent, None]:
        """As events(), on `conn`, inside the caller's transaction (a snapshot it chose)."""
        where, params = _filters(start, end, topics)
        cursor = conn.cursor(name="archive_events")
        await cursor.execute(
            f'SELECT event_id, occurred_at, type, schema_version, topic, partition, "offset",'
            f" key, value FROM {self.schema}.events {where}"
            " ORDER BY topic, partition, seq",
            params,
        )
        async for row in cursor:
            yield ArchivedEvent(*row)

    async def positions_in(self, conn) -> dict[tuple[str, int], int]:
        rows = await (
            await conn.execute(f'SELECT topic, partition, "offset" FROM {self.schema}.positions')
        ).fetchall()
        return {(topic, partition): offset for topic, partition, offset in rows}


def _filters(
    start: datetime | None, end: datetime | None, topics: list[str] | None
) -> tuple[str, list]:
    clauses: list[str] = []
    params: list[object] = []
    if start is not None:
        clauses.append("occurred_at >= %s")
        params.append(start)
    if end is not None:
        clauses.append("occurred_at < %s")
        params.append(end)
    if topics is not None:
        clauses.append("topic = ANY(%s)")
        params.append(topics)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params
