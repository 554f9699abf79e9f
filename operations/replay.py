"""`chirp replay <read-model>|all`: rebuild a read model into a fresh generation, then switch.

Each read model is rebuilt from the log that feeds it, by the code its live agents run,
into generation n+1 beside the live one (projections/targets.py):

- **core** (social graph, tweet store, engagements, timelines and caches: one PostgreSQL
  schema and one Redis prefix) from the four event topics, through the core projection's
  batch path (agents/core.py), in chunks of up to 5,000 records;
- **search** (the index: a tantivy directory, or an Elasticsearch index behind the alias)
  from the user, tweet and engagement topics: every tweet and user an event touches is
  written as the stores have it, as the search agent does;
- **trends** (the windows in Redis) from `trending-topics`, the Flink job's output;
- **notifications** (with the mentions timeline: one PostgreSQL schema) from the four event
  topics, through the notifications agent's batch path (agents/notifications.py).

1. **Fresh target.** Whatever a failed earlier attempt left of generation n+1 is dropped.
2. **Build.** Events are read from Kafka (every partition from its start), or from the
   archive first and then from Kafka where the archive ends (core and search; trend rows
   are not archived). Each partition is applied in order, partitions side by side. The
   replay never applies past what the live agents of that read model have applied (their
   recorded positions), so that the two generations stay comparable.
3. **Handover.** Once within HANDOVER_LAG events of the live agents, the replay asks them
   to pause, applies the log up to exactly where they stopped, and points readers and
   agents at the new generation in one transaction. The agents go on from there on the new
   generation; nothing is applied twice or skipped.
4. **Drop.** After a grace for requests under way, the old generation is dropped (unless
   kept).

Readers see the old generation, complete, until the switch, and the new one, complete, after
it: never a generation being built.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from agents.batches import apply_records, last_event_ids
from agents.context import AgentContext
from agents.core import apply_core
from agents.erasure import screened
from agents.notifications import apply_notifications
from agents.search import deleted_and_touched, profiles_touched, write_tweets, write_users
from infra.kafka_security import aiokafka_security
from infra.settings import Settings
from projections import targets
from projections.fanout import CelebrityThreshold
from projections.read_models import build_read_models, redis_client, search_index, setup_read_models
from projections.redis_keys import RedisKeys
from projections.targets import ReadModel, group_of
from projections.trends import BadTrendRow, decode_trend_row
from schemas import events as ev
from schemas.events import UndecodableEvent, decode
from streams.archive import PostgresArchive, Record
from streams.topics import topic_registry

log = logging.getLogger("chirp.replay")

# Ask the live agents to pause once the replay is this close behind them.
HANDOVER_LAG = 500
# How long the live agents have to answer a pause.
PAUSE_ANSWER_SECONDS = 30.0
# Requests under way when readers switch finish on the old generation within this.
DROP_GRACE_SECONDS = 5.0
# Records read ahead of what may be applied, per partition, before its reading pauses.
READ_AHEAD = 20_000
FETCH_MAX_RECORDS = 5_000
# The search replay writes the tweets it has seen touched once it holds this many.
SEARCH_FLUSH_TWEETS = 5_000


class ReplayFailed(RuntimeError):
    pass


@dataclass
class ReplayResult:
    read_model: str
    old_generation: int
    new_generation: int
    events: int
    seconds: float
    from_archive: int
    skipped: int
    dropped_old: bool


Progress = Callable[[int, int, str], None]  # (applied, target, phase)
Places = dict[tuple[str, int], list[Record]]


async def replay(
    settings: Settings,
    read_model: str,
    *,
    source: str = "kafka",
    start: datetime | None = None,
    keep_old: bool = False,
    progress: Progress | None = None,
) -> ReplayResult:
    """Rebuild `read_model` (core, search, trends or notifications) into a fresh generation
    and switch."""
    if read_model not in targets.READ_MODELS:
        raise ReplayFailed(f"no read model {read_model!r}: one of {', '.join(targets.READ_MODELS)}")
    if read_model == ReadModel.CORE and settings.tweet_store != "postgres":
        raise ReplayFailed(
            "replay builds the PostgreSQL tweet store; a Cassandra tweet store "
            "needs a keyspace per generation, which is not built yet"
        )
    if read_model == ReadModel.TRENDS and source == "archive":
        raise ReplayFailed(
            "trends replay from trending-topics on Kafka: the archive keeps the "
            "event topics, not the trending job's rows"
        )
    pool = AsyncConnectionPool(settings.postgres, min_size=2, max_size=8, open=False, timeout=10)
    await pool.open(wait=True, timeout=30)
    # No read timeout, as the agents: one armed for every reply of a batch cost 9% here.
    redis = redis_client(settings, read_timeout=None)
    lock_name = f"replay {targets.base(settings, read_model)}"
    try:
        async with pool.connection() as lock:
            # One replay of a deployment's read model at a time.
            row = await (
                await lock.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (lock_name,))
            ).fetchone()
            assert row is not None  # a SELECT without FROM answers one row
            held = row[0]
            await lock.commit()  # the lock is the session's: no transaction stays open
            if not held:
                raise ReplayFailed(f"another replay of the {read_model} read model is running")
            try:
                live = await targets.current(pool, settings)
                target = TARGETS[read_model](live, pool, redis, start)
                return await _Replay(target, source, keep_old, progress or (lambda *_: None)).run()
            finally:
                await lock.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock_name,))
    finally:
        await redis.aclose()
        await pool.close()


class _Target:
    """What one read model's replay builds, and how: subclasses below."""

    read_model: str
    topics: tuple[str, ...]  # topic names without the deployment's prefix

    def __init__(
        self, live: Settings, pool: AsyncConnectionPool, redis: Redis, start: datetime | None
    ) -> None:
        self.pool, self.redis, self.start = pool, redis, start
        self.old = live
        self.new = live.at(**{self.read_model: live.generation(self.read_model) + 1})
        self.live = build_read_models(self.old, pool, redis)
        self.skipped = 0

    @property
    def base(self) -> str:
        return targets.base(self.old, self.read_model)

    @property
    def group(self) -> str:
        """The live agents' consumer group: their positions bound the replay."""
        return group_of(self.old, self.read_model)

    async def create(self) -> None:
        """An empty new generation, ready to be written."""

    async def apply(self, by_partition: Places) -> None:
        raise NotImplementedError

    async def applied(
        self,
        positions: dict[tuple[str, int], int],
        event_ids: dict[tuple[str, int], int] | None = None,
    ) -> None:
        """The new generation holds the log up to `positions` (after apply), where the last
        events applied are `event_ids`."""

    async def seal(self) -> None:
        """Everything applied is in the new generation, which no longer has a writer here."""

    async def switched(self) -> None:
        """Just after readers and agents were pointed at the new generation."""

    async def drop(self, settings: Settings) -> None:
        """Drop the generation of this read model that `settings` name."""
        raise NotImplementedError

    def decoded(self, by_partition: Places, decode, undecodable: type[Exception]):
        """The records' values decoded; the ones that do not decode are skipped and counted
        (the live agents dead-lettered them already)."""
        for records in by_partition.values():
            for record in records:
                try:
                    yield decode(record.value)
                except undecodable:
                    self.skipped += 1


class _ThroughAgents(_Target):
    """A read model rebuilt from the event topics through its live agents' own batch path
    (`apply_events`, with a context on the new generation)."""

    topics = ("users", "follows", "tweets", "engagements")

    def __init__(
        self,
        *args,
        apply_events: Callable[[AgentContext, list[ev.Event]], Awaitable[None]],
        threshold: CelebrityThreshold | None = None,
    ) -> None:
        super().__init__(*args)
        self.apply_events = apply_events
        self.target = build_read_models(self.new, self.pool, self.redis)
        self.context = AgentContext(
            settings=self.new, models=self.target, threshold=threshold, search=None, archive=None
        )

    async def apply(self, by_partition: Places) -> None:
        """The records as one batch."""
        records = [record for records in by_partition.values() for record in records]
        await apply_records(self.context, records, self._apply_since_start, self)

    async def _apply_since_start(self, context: AgentContext, events: list[ev.Event]) -> None:
        if self.start is not None:
            events = [event for event in events if event.occurred_at >= self.start]
        await self.apply_events(context, events)

    async def send(self, key=None, value=None) -> None:
        """Dead letters of a replay: the live agents dead-lettered these already; count them."""
        self.skipped += 1


class _Core(_ThroughAgents):
    read_model = ReadModel.CORE

    def __init__(self, *args) -> None:
        # Fan-out as it was when the events were live: no lowered threshold for the lag a
        # replay has by nature.
        live: Settings = args[0]
        super().__init__(
            *args,
            apply_events=screened(apply_core),
            threshold=CelebrityThreshold(
                live.celebrity_threshold, live.celebrity_threshold, float("inf")
            ),
        )

    async def create(self) -> None:
        await setup_read_models(self.target)

    async def applied(
        self,
        positions: dict[tuple[str, int], int],
        event_ids: dict[tuple[str, int], int] | None = None,
    ) -> None:
        # Readers of the new generation wait on these, under the live agents' name.
        await self.target.progress.advance(positions, event_ids=event_ids)

    async def seal(self) -> None:
        """The other agents' positions live beside the core ones: they carry over as they are."""
        for read_model in targets.READ_MODELS:
            if read_model == ReadModel.CORE:
                continue
            group = group_of(self.old, read_model)
            await self.target.progress.advance(
                _bounds(await self.live.progress.applied(group)),
                group,
                await self.live.progress.applied_events(group),
            )

    async def drop(self, settings: Settings) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {settings.core_schema} CASCADE")
        keys = RedisKeys(settings.core_prefix, root=settings.redis_prefix)
        await _unlink(
            self.redis,
            (
                key
                async for key in self.redis.scan_iter(match=f"{keys.prefix}*", count=2000)
                if keys.in_generation(key.decode())
            ),
        )


class _Notifications(_ThroughAgents):
    read_model = ReadModel.NOTIFICATIONS

    def __init__(self, *args) -> None:
        super().__init__(*args, apply_events=screened(apply_notifications))

    async def create(self) -> None:
        await self.target.notifications.setup()

    async def drop(self, settings: Settings) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {settings.notifications_schema} CASCADE")


class _Search(_Target):
    read_model = ReadModel.SEARCH
    topics = ("users", "tweets", "engagements")

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.index = search_index(self.new, writable=True)
        # write_tweets reads the tweets as the live stores hold them: they are ahead of the
        # replay, which stays behind the live search agent, which waits for them.
        self.context = AgentContext(
            settings=self.new, models=self.live, threshold=None, search=self.index, archive=None
        )
        self.touched: set[int] = set()
        self.deleted: set[int] = set()
        self.users: set[int] = set()

    async def create(self) -> None:
        await self.index.setup()

    async def apply(self, by_partition: Places) -> None:
        for event in self.decoded(by_partition, decode, UndecodableEvent):
            if self.start is None or event.occurred_at >= self.start:
                deleted, touched = deleted_and_touched(event)
                self.deleted |= deleted
                self.touched |= touched
                self.users |= profiles_touched(event)
        if len(self.touched) + len(self.users) >= SEARCH_FLUSH_TWEETS:
            await self._flush()

    async def _flush(self) -> None:
        # A deleted reply takes one off its parent's reply count: the parent is written again.
        parents = await self.live.tweets.parents(sorted(self.deleted))
        await write_tweets(self.context, self.index, self.touched | set(parents.values()))
        await write_users(self.context, self.index, self.users)
        self.touched, self.deleted, self.users = set(), set(), set()

    async def seal(self) -> None:
        await self._flush()
        await self.index.close()  # tantivy: the directory's one writer is the agent's now

    async def switched(self) -> None:
        index = search_index(self.new)
        try:
            await index.promote()
        finally:
            await index.close()

    async def drop(self, settings: Settings) -> None:
        await self.index.close()
        index = search_index(settings)
        try:
            await index.drop()
        finally:
            await index.close()


class _Trends(_Target):
    read_model = ReadModel.TRENDS
    topics = ("trending-topics",)

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.target = build_read_models(self.new, self.pool, self.redis)

    async def apply(self, by_partition: Places) -> None:
        await self.target.trends.upsert(
            [
                row
                for row in self.decoded(by_partition, decode_trend_row, BadTrendRow)
                if self.start is None or row.window_end >= self.start
            ]
        )

    async def drop(self, settings: Settings) -> None:
        keys = RedisKeys(
            settings.core_prefix,
            root=settings.redis_prefix,
            trends_generation=settings.trends_generation,
        )
        windows = keys.trend_windows()
        await _unlink(
            self.redis,
            (key async for key in self.redis.scan_iter(match=f"{windows}:*", count=2000)),
        )
        await self.redis.unlink(windows)


TARGETS: dict[str, type[_Target]] = {
    ReadModel.CORE: _Core,
    ReadModel.SEARCH: _Search,
    ReadModel.TRENDS: _Trends,
    ReadModel.NOTIFICATIONS: _Notifications,
}


class _Replay:
    def __init__(self, target: _Target, source: str, keep_old: bool, progress: Progress) -> None:
        self.target, self.source, self.keep_old, self.progress = target, source, keep_old, progress
        self.settings = target.old
        self.pool = target.pool
        registry = topic_registry(self.settings)
        self.names = {
            topic.name.removeprefix(registry.prefix): topic.name
            for topic in registry.all()
            if topic.name.removeprefix(registry.prefix) in target.topics
        }
        partitions = {topic.name: topic.partitions for topic in registry.all()}
        self.places = [
            (name, number) for name in self.names.values() for number in range(partitions[name])
        ]
        self.applied = {place: -1 for place in self.places}
        self.pending: dict[tuple[str, int], deque[Record]] = {
            place: deque() for place in self.places
        }
        self.events = self.from_archive = 0
        self.switched = False

    async def run(self) -> ReplayResult:
        started = time.monotonic()
        target = self.target
        await target.drop(target.new)
        await target.create()
        try:
            if self.source == "archive":
                await self._from_archive()
            await self._from_kafka()
        except BaseException:
            if not self.switched:  # else the new generation is the live one now
                await targets.cancel_handover(self.pool, target.base)
                await target.drop(target.new)
            raise
        seconds = time.monotonic() - started
        dropped = False
        if not self.keep_old:
            await asyncio.sleep(DROP_GRACE_SECONDS)
            await target.drop(target.old)
            dropped = True
        return ReplayResult(
            target.read_model,
            target.old.generation(target.read_model),
            target.new.generation(target.read_model),
            self.events,
            seconds,
            self.from_archive,
            target.skipped,
            dropped,
        )

    # --- sources ---------------------------------------------------------------------------

    async def _from_archive(self) -> None:
        """Every archived event of the read model's topics, partition by partition in log
        order; then Kafka goes on from where the archive had read each partition."""
        archive = PostgresArchive(self.pool, self.settings.archive_schema)
        async with self.pool.connection() as conn, conn.transaction():
            # One snapshot for the positions and the events they cover.
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            positions = await archive.positions_in(conn)
            batch: list[Record] = []
            async for event in archive.events_in(conn):
                if event.topic not in self.names:
                    continue
                batch.append(
                    Record(
                        self.names[event.topic],
                        event.partition,
                        event.offset,
                        event.key,
                        event.value,
                    )
                )
                if len(batch) >= FETCH_MAX_RECORDS:
                    await self._apply_sequence(batch)
                    batch = []
            await self._apply_sequence(batch)
        # Kafka goes on after what the archive had read (offsets of the log as it is now;
        # archived rows may carry the offsets of an earlier, restored log).
        for (topic, partition), offset in positions.items():
            if topic in self.names:
                self.applied[(self.names[topic], partition)] = offset
        await self.target.applied(
            {place: offset for place, offset in self.applied.items() if offset >= 0}
        )

    async def _apply_sequence(self, records: list[Record]) -> None:
        """Archived records (ordered by partition, then log order) applied as they come."""
        by_partition: Places = {}
        for record in records:
            by_partition.setdefault((record.topic, record.partition), []).append(record)
        if by_partition:
            await self.target.apply(by_partition)
        self.events += len(records)
        self.from_archive += len(records)
        self.progress(self.events, self.events, "archive")

    async def _from_kafka(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            enable_auto_commit=False,
            group_id=None,
            fetch_max_wait_ms=50,
            max_partition_fetch_bytes=4 << 20,
            client_id="chirp-replay",
            **aiokafka_security(self.settings),
        )
        await consumer.start()
        try:
            partitions = {place: TopicPartition(*place) for place in self.places}
            consumer.assign(list(partitions.values()))
            for place, tp in partitions.items():
                consumer.seek(tp, self.applied[place] + 1)
            await self._catch_up_and_hand_over(consumer, partitions)
        finally:
            await consumer.stop()

    async def _catch_up_and_hand_over(self, consumer, partitions) -> None:
        target, base = self.target, self.target.base
        new = target.new.generation(target.read_model)
        phase, asked_at, bounds, waiting_since = "catch-up", 0.0, {}, 0.0
        while True:
            if phase != "final":
                bounds = _bounds(await target.live.progress.applied(target.group))
            fetched = await consumer.getmany(timeout_ms=100, max_records=FETCH_MAX_RECORDS)
            for tp, messages in fetched.items():
                self.pending[(tp.topic, tp.partition)].extend(
                    Record(m.topic, m.partition, m.offset, m.key, m.value) for m in messages
                )
            await self._apply_within(bounds)
            for place, tp in partitions.items():  # read ahead boundedly
                if len(self.pending[place]) > READ_AHEAD:
                    consumer.pause(tp)
                else:
                    consumer.resume(tp)
            behind = sum(
                max(bounds.get(place, -1) - self.applied[place], 0) for place in self.places
            )
            self.progress(self.events, self.events + behind, phase)
            # Not while the live agents are behind what the archive gave: at the handover
            # they go on from where they are, and would apply those events a second time.
            ahead = any(self.applied[place] > bounds.get(place, -1) for place in self.places)
            if phase == "catch-up" and behind <= HANDOVER_LAG:
                if not ahead:
                    await targets.request_pause(self.pool, base, new)
                    phase, asked_at = "pause", time.monotonic()
                else:
                    waiting_since = waiting_since or time.monotonic()
                    if time.monotonic() - waiting_since > PAUSE_ANSWER_SECONDS:
                        raise ReplayFailed(
                            f"the live {target.read_model} agents have not "
                            "applied what the archive holds within "
                            f"{PAUSE_ANSWER_SECONDS:.0f}s: is the agents "
                            "worker running?"
                        )
            elif phase == "pause":
                handover = (await targets.pending_handovers(self.pool, [base])).get(base)
                if handover is not None and handover.state == "paused":
                    bounds, phase = _bounds(handover.positions), "final"
                elif time.monotonic() - asked_at > PAUSE_ANSWER_SECONDS:
                    raise ReplayFailed(
                        f"the live {target.read_model} agents did not pause "
                        f"within {PAUSE_ANSWER_SECONDS:.0f}s: is the agents "
                        "worker running?"
                    )
            if phase == "final" and all(
                self.applied[place] >= bounds.get(place, -1) for place in self.places
            ):
                await target.seal()
                try:
                    await targets.switch(self.pool, base, new)
                except targets.HandoverLost as error:
                    raise ReplayFailed(str(error)) from error
                self.switched = True
                await target.switched()
                self.progress(self.events, self.events, "switched")
                return

    # --- applying --------------------------------------------------------------------------

    async def _apply_within(self, bounds: dict[tuple[str, int], int]) -> None:
        ready: Places = {}
        for place, queue in self.pending.items():
            bound = bounds.get(place, -1)
            while queue and queue[0].offset <= bound:
                ready.setdefault(place, []).append(queue.popleft())
        if not ready:
            return
        await self.target.apply(ready)
        for place, records in ready.items():
            self.applied[place] = max(self.applied[place], records[-1].offset)
            self.events += len(records)
        await self.target.applied(
            {place: records[-1].offset for place, records in ready.items()},
            last_event_ids([r for records in ready.values() for r in records]),
        )


def _bounds(positions: dict[str, int]) -> dict[tuple[str, int], int]:
    bounds = {}
    for place, offset in positions.items():
        topic, partition = place.rsplit(":", 1)
        bounds[(topic, int(partition))] = int(offset)
    return bounds


async def _unlink(redis: Redis, keys) -> None:
    """Unlink the keys an async iterator yields, a thousand at a time."""
    batch = []
    async for key in keys:
        batch.append(key)
        if len(batch) >= 1000:
            await redis.unlink(*batch)
            batch = []
    if batch:
        await redis.unlink(*batch)
