"""`chirp replay core`: rebuild the core read models into a fresh generation, then switch.

The core read models (social graph, tweet store, engagements, timelines and caches: one
PostgreSQL schema and one Redis prefix, written together by the graph, tweet and engagement
agents) are rebuilt by applying the log with the agents' own handlers into generation n+1:

1. **Fresh target.** Whatever a failed earlier attempt left of generation n+1 is dropped.
2. **Build.** Events are read from Kafka (every partition from its start), or from the
   archive first and then from Kafka where the archive ends. Each partition is applied in
   order, partitions side by side. The replay never applies past what the live agents have
   applied (their recorded positions), so that the two generations stay comparable.
3. **Handover** (infra/targets.py). Once within HANDOVER_LAG events of the live agents, the
   replay asks them to pause, applies the log up to exactly where they stopped, and points
   readers and agents at the new generation in one transaction. The agents go on from
   there on the new generation; nothing is applied twice or skipped.
4. **Drop.** After a grace for requests under way, the old generation's schema and keys
   are dropped (unless kept).

Readers see the old generation, complete, until the switch, and the new one, complete, after
it: never a generation being built.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from agents.batches import _apply_in_order
from agents.context import AgentContext
from agents.engagements import apply_engagement_event
from agents.graph import apply_graph_event
from agents.search import search_group
from agents.tweets import apply_tweet_event
from infra import targets
from infra.bootstrap import topic_registry
from infra.read_models import build_read_models, setup_read_models
from infra.settings import Settings
from projections.fanout import CelebrityThreshold
from projections.redis_keys import RedisKeys
from schemas import events as ev
from streams.archive import PostgresArchive, Record

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

HANDLERS = {"users": apply_graph_event, "follows": apply_graph_event,
            "tweets": apply_tweet_event, "engagements": apply_engagement_event}


class ReplayFailed(RuntimeError):
    pass


@dataclass
class ReplayResult:
    old_generation: int
    new_generation: int
    events: int
    seconds: float
    from_archive: int
    skipped: int
    dropped_old: bool


class _Skipped:
    """Dead letters of a replay: the live agents dead-lettered these already; count them."""

    def __init__(self) -> None:
        self.count = 0

    async def send(self, key=None, value=None) -> None:
        self.count += 1


Progress = Callable[[int, int, str], None]  # (applied, target, phase)


async def replay_core(settings: Settings, *, source: str = "kafka", start: datetime | None = None,
                      keep_old: bool = False, progress: Progress | None = None) -> ReplayResult:
    if settings.tweet_store != "postgres":
        raise ReplayFailed("replay builds the PostgreSQL tweet store; a Cassandra tweet store "
                           "needs a keyspace per generation, which is not built yet")
    pool = AsyncConnectionPool(settings.postgres, min_size=2, max_size=8, open=False, timeout=10)
    await pool.open(wait=True, timeout=30)
    redis = Redis.from_url(settings.redis, socket_timeout=10)
    try:
        async with pool.connection() as lock:
            # One replay of a deployment's core read models at a time.
            held = (await (await lock.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                                              (f"replay {settings.read_schema}",))).fetchone())[0]
            await lock.commit()  # the lock is the session's: no transaction stays open
            if not held:
                raise ReplayFailed("another replay of these read models is running")
            try:
                return await _Replay(settings, pool, redis, source, start, keep_old,
                                     progress or (lambda *_: None)).run()
            finally:
                await lock.execute("SELECT pg_advisory_unlock(hashtext(%s))",
                                   (f"replay {settings.read_schema}",))
    finally:
        await redis.aclose()
        await pool.close()


class _Replay:
    def __init__(self, settings, pool, redis, source, start, keep_old, progress) -> None:
        self.settings, self.pool, self.redis = settings, pool, redis
        self.source, self.start, self.keep_old, self.progress = source, start, keep_old, progress
        self.registry = topic_registry(settings)
        self.places = [(topic.name, number) for topic in self.registry.event_topics()
                       for number in range(topic.partitions)]
        self.applied = {place: -1 for place in self.places}
        self.pending = {place: deque() for place in self.places}
        self.events = self.from_archive = 0
        self.skipped = _Skipped()
        self.switched = False

    async def run(self) -> ReplayResult:
        started = time.monotonic()
        base = self.settings.read_schema
        old = await targets.core_generation(self.pool, base)
        new = old + 1
        old_settings = self.settings.model_copy(update={"core_generation": old})
        new_settings = self.settings.model_copy(update={"core_generation": new})
        await drop_generation(self.pool, self.redis, new_settings)
        self.live = build_read_models(old_settings, self.pool, self.redis)
        self.target = build_read_models(new_settings, self.pool, self.redis)
        await setup_read_models(self.target)
        # Fan-out as it was when the events were live: no lowered threshold for the lag a
        # replay has by nature.
        threshold = CelebrityThreshold(self.settings.celebrity_threshold,
                                       self.settings.celebrity_threshold, float("inf"))
        self.context = AgentContext(settings=new_settings, models=self.target,
                                    threshold=threshold, search=None, archive=None)
        try:
            if self.source == "archive":
                await self._from_archive()
            await self._from_kafka(base, new)
        except BaseException:
            if not self.switched:  # else the new generation is the live one now
                await targets.cancel_handover(self.pool, base)
                await drop_generation(self.pool, self.redis, new_settings)
            raise
        seconds = time.monotonic() - started
        dropped = False
        if not self.keep_old:
            await asyncio.sleep(DROP_GRACE_SECONDS)
            await drop_generation(self.pool, self.redis, old_settings)
            dropped = True
        return ReplayResult(old, new, self.events, seconds, self.from_archive,
                            self.skipped.count, dropped)

    # --- sources ---------------------------------------------------------------------------

    async def _from_archive(self) -> None:
        """Every archived event, partition by partition in log order; then Kafka goes on
        from where the archive had read each partition."""
        archive = PostgresArchive(self.pool, self.settings.archive_schema)
        names = {topic.name.removeprefix(self.registry.prefix): topic.name
                 for topic in self.registry.event_topics()}
        async with self.pool.connection() as conn, conn.transaction():
            # One snapshot for the positions and the events they cover.
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            positions = await archive.positions_in(conn)
            batch: list[Record] = []
            async for event in archive.events_in(conn):
                batch.append(Record(names[event.topic], event.partition, event.offset,
                                    event.key, event.value))
                if len(batch) >= FETCH_MAX_RECORDS:
                    await self._apply_sequence(batch)
                    batch = []
            await self._apply_sequence(batch)
        # Kafka goes on after what the archive had read (offsets of the log as it is now;
        # archived rows may carry the offsets of an earlier, restored log).
        for (topic, partition), offset in positions.items():
            self.applied[(names[topic], partition)] = offset
        await self.target.cache.advance({place: offset for place, offset in self.applied.items()
                                         if offset >= 0})

    async def _apply_sequence(self, records: list[Record]) -> None:
        """Archived records (ordered by partition, then log order) applied as they come."""
        by_partition: dict[tuple[str, int], list[Record]] = {}
        for record in records:
            by_partition.setdefault((record.topic, record.partition), []).append(record)
        await self._apply(by_partition, record_positions=False)
        self.from_archive += len(records)
        self.progress(self.events, self.events, "archive")

    async def _from_kafka(self, base: str, new: int) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.bootstrap_servers,
                                    enable_auto_commit=False, group_id=None,
                                    fetch_max_wait_ms=50, max_partition_fetch_bytes=4 << 20,
                                    client_id="chirp-replay")
        await consumer.start()
        try:
            partitions = {place: TopicPartition(*place) for place in self.places}
            consumer.assign(list(partitions.values()))
            for place, tp in partitions.items():
                consumer.seek(tp, self.applied[place] + 1)
            await self._catch_up_and_hand_over(consumer, partitions, base, new)
        finally:
            await consumer.stop()

    async def _catch_up_and_hand_over(self, consumer, partitions, base: str, new: int) -> None:
        phase, asked_at, bounds, waiting_since = "catch-up", 0.0, {}, 0.0
        while True:
            if phase != "final":
                bounds = _bounds(await self.live.cache.applied(self.settings.agent_group))
            fetched = await consumer.getmany(timeout_ms=100, max_records=FETCH_MAX_RECORDS)
            for tp, messages in fetched.items():
                self.pending[(tp.topic, tp.partition)].extend(
                    Record(m.topic, m.partition, m.offset, m.key, m.value) for m in messages)
            await self._apply_within(bounds)
            for place, tp in partitions.items():  # read ahead boundedly
                if len(self.pending[place]) > READ_AHEAD:
                    consumer.pause(tp)
                else:
                    consumer.resume(tp)
            behind = sum(max(bounds.get(place, -1) - self.applied[place], 0)
                         for place in self.places)
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
                        raise ReplayFailed("the live agents have not applied what the archive "
                                           f"holds within {PAUSE_ANSWER_SECONDS:.0f}s: is the "
                                           "agents worker running?")
            elif phase == "pause":
                handover = await targets.pending_handover(self.pool, base)
                if handover is not None and handover[1] == "paused":
                    bounds, phase = _bounds(handover[2]), "final"
                elif time.monotonic() - asked_at > PAUSE_ANSWER_SECONDS:
                    raise ReplayFailed(f"the live agents did not pause within "
                                       f"{PAUSE_ANSWER_SECONDS:.0f}s: is the agents worker running?")
            if phase == "final" and all(self.applied[place] >= bounds.get(place, -1)
                                        for place in self.places):
                await self._copy_search_positions()
                try:
                    await targets.switch(self.pool, base, new)
                except targets.HandoverLost as error:
                    raise ReplayFailed(str(error)) from error
                self.switched = True
                self.progress(self.events, self.events, "switched")
                return

    # --- applying --------------------------------------------------------------------------

    async def _apply_within(self, bounds: dict[tuple[str, int], int]) -> None:
        ready: dict[tuple[str, int], list[Record]] = {}
        for place, queue in self.pending.items():
            bound = bounds.get(place, -1)
            while queue and queue[0].offset <= bound:
                ready.setdefault(place, []).append(queue.popleft())
        await self._apply(ready)

    async def _apply(self, by_partition: dict[tuple[str, int], list[Record]],
                     record_positions: bool = True) -> None:
        by_partition = {place: records for place, records in by_partition.items() if records}
        if not by_partition:
            return
        await asyncio.gather(*(
            _apply_in_order(self.context, self._handler(place[0]), records, self.skipped)
            for place, records in by_partition.items()))
        if not record_positions:
            self.events += sum(len(records) for records in by_partition.values())
            return
        for place, records in by_partition.items():
            self.applied[place] = max(self.applied[place], records[-1].offset)
            self.events += len(records)
        # Readers of the new generation wait on these, under the live agents' name.
        await self.target.cache.advance(
            {place: records[-1].offset for place, records in by_partition.items()})

    def _handler(self, topic: str):
        handle = HANDLERS[topic.removeprefix(self.registry.prefix)]
        if self.start is None:
            return handle
        start = self.start

        async def since_start(context: AgentContext, event: ev.Event) -> None:
            if event.occurred_at >= start:
                await handle(context, event)
        return since_start

    async def _copy_search_positions(self) -> None:
        """The search agent waits on its own positions too: they carry over as they are."""
        group = search_group(self.settings.agent_group)
        positions = await self.live.cache.applied(group)
        await self.target.cache.advance(_bounds(positions), group)


def _bounds(positions: dict[str, int]) -> dict[tuple[str, int], int]:
    bounds = {}
    for place, offset in positions.items():
        topic, partition = place.rsplit(":", 1)
        bounds[(topic, int(partition))] = int(offset)
    return bounds


async def drop_generation(pool: AsyncConnectionPool, redis: Redis, settings: Settings) -> None:
    """Drop one generation of the core read models: its schema and its Redis keys."""
    async with pool.connection() as conn:
        await conn.execute(f"DROP SCHEMA IF EXISTS {settings.core_schema} CASCADE")
    keys = RedisKeys(settings.core_prefix, root=settings.redis_prefix)
    batch = []
    async for key in redis.scan_iter(match=f"{keys.prefix}*", count=2000):
        if not keys.in_generation(key.decode()):
            continue
        batch.append(key)
        if len(batch) >= 1000:
            await redis.unlink(*batch)
            batch = []
    if batch:
        await redis.unlink(*batch)
