"""A read model's consumer: a Kafka consumer-group member that hands over whole batches.

Faust's streams deliver one message at a time through several asyncio hops: measured on this
machine's broker, a Faust agent consumes 8,000-11,000 records/s doing nothing with them, and
each further agent on the same topics costs as much again, while aiokafka's `getmany` (the
client Faust itself uses) hands over about 300,000 records/s. The event projections are
set-based per batch, so they read through `getmany` directly; Faust still runs the worker,
its lifecycle and the trends agent.

- **Batches adapt by themselves.** A batch is whatever arrived since the previous one, up to
  `max_records`: a lone post on a quiet log is applied at once, a backlog goes in large
  batches. Two figures per read model (`Batching`) shape them:
  - the fetch wait, the smallest batch window on a quiet log: the local broker holds an empty
    fetch for its whole wait instead of answering when a record arrives;
  - the interval, the least time from one batch's start to the next's. Without it, a steady
    stream of posts was applied one or two records a batch, each paying a transaction, a
    round trip to every store and a fetch request to the broker: measured at 150 posts/s
    (bench-ingest), the API then took at most 175 posts/s with both cores busy; with the
    core's batches at least 30 ms apart, 263/s, and post -> visible p99 fell from 377 to
    134 ms at 150/s.
  The core projection (a follower should see a post at once) has the shortest wait and
  interval; the search index and the archive, whose writes cost about the same for one
  record as for hundreds (an index commit, a transaction), gather longer.
- **Positions.** After applying a batch, the read model records how far it got (in Redis,
  where readers wait on it) and commits the offsets to the group. A member that is assigned a
  partition starts after the recorded position when there is one (the local stack's broker
  forgets committed offsets on restart; the positions survive it, operations/durability.py), so
  a restart resumes instead of redoing. At least once: a batch may be applied again after a
  crash, which the projections absorb.
- **Rebalances.** Several workers share a group's partitions (docs/deploy.md). A worker that
  is losing partitions finishes the batch it is applying before it gives them up (the revoke
  waits for it), and records of a partition it no longer owns are not applied: so a
  partition's events are applied in log order by one worker at a time, and its next owner
  starts after what was recorded. A killed worker's partitions move once the broker misses
  its heartbeats for the session timeout; its successor applies again whatever it had not
  recorded. (A worker that stalls longer than the rebalance timeout in the middle of a batch,
  without dying, is the one case where two workers could apply one partition at once.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from infra.kafka_security import aiokafka_security
from infra.metrics import ASSIGNED_PARTITIONS
from infra.settings import Settings

log = logging.getLogger("chirp.agents")

COMMIT_INTERVAL_SECONDS = 1.0

Handle = Callable[[list], Awaitable[None]]


@dataclass(frozen=True)
class Batching:
    """How a read model's consumer gathers batches.

    `fetch_wait_ms`: how long the broker holds a fetch on a quiet log (the smallest batch
    window there). `interval_ms`: the least time from one batch's start to the next's, so
    that under a steady stream each batch gathers what arrived meanwhile instead of one or
    two records (each batch costs a transaction and a round trip to every store, and each
    fetch costs the broker a request). A lone record on a quiet log still goes at once.
    """

    max_records: int
    fetch_wait_ms: int
    interval_ms: int


Resume = Callable[[list[tuple[str, int]]], Awaitable[dict[tuple[str, int], int]]]


async def _always() -> None:
    pass


class BatchConsumer:
    """Reads `topics` as member of `group_id`, hands each batch (records in log order per
    partition) to `handle` once `ready` returns (a replay's handover pauses a read model
    there, outside the batch a revoke waits for), and starts each assigned partition after its
    `resume` position."""

    def __init__(
        self,
        settings: Settings,
        group_id: str,
        topics: list[str],
        handle: Handle,
        resume: Resume,
        batching: Batching,
        ready: Callable[[], Awaitable[None]] = _always,
    ) -> None:
        self.settings, self.group_id, self.topics = settings, group_id, topics
        self.handle, self.resume, self.batching, self.ready = handle, resume, batching, ready
        self.assigned = asyncio.Event()
        # The partitions this member owns now, and the last offset applied in each: records
        # at or before it are not applied again.
        self.owned: set[tuple[str, int]] = set()
        self.applied: dict[tuple[str, int], int] = {}
        # Held while a batch is applied: a revoke waits for it (module docstring).
        self.applying = asyncio.Lock()
        self._committed_at = 0.0

    async def run(self) -> None:
        batching = self.batching
        self.disown(list(self.owned))  # a restarted consumer joins its group afresh
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            group_id=self.group_id,
            client_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=batching.fetch_wait_ms,
            max_partition_fetch_bytes=4 << 20,
            # The local broker holds a join open for the whole rebalance timeout before it
            # assigns: keep it short so a (re)started worker is consuming within seconds.
            rebalance_timeout_ms=3000,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1000,
            **aiokafka_security(self.settings),
        )
        consumer.subscribe(self.topics, listener=_Resuming(self, consumer))
        await consumer.start()
        try:
            started = 0.0
            while True:
                await asyncio.sleep(
                    max(0.0, started + batching.interval_ms / 1000 - time.monotonic())
                )
                fetched = await consumer.getmany(timeout_ms=1000, max_records=batching.max_records)
                if fetched:  # after an empty fetch the next one goes at once
                    started = time.monotonic()
                    await self.ready()
                async with self.applying:
                    # Fetched before a rebalance took some partitions away: not ours to apply.
                    records = [
                        record
                        for tp in sorted(fetched)
                        if (tp.topic, tp.partition) in self.owned
                        for record in fetched[tp]
                        if record.offset > self.applied.get((tp.topic, tp.partition), -1)
                    ]
                    if records:
                        await self.handle(records)
                        for record in records:
                            self.applied[(record.topic, record.partition)] = record.offset
                await self._commit(consumer)
        finally:
            try:
                await self._commit(consumer, force=True)
            finally:  # a stop cancelled during the last commit still leaves the group
                await consumer.stop()

    def disown(self, places: list[tuple[str, int]]) -> None:
        """These partitions are no longer this member's: not applied, not shown as its."""
        for place in places:
            self.owned.discard(place)
            self.applied.pop(place, None)
            with contextlib.suppress(KeyError):  # never shown: assigned and revoked at once
                ASSIGNED_PARTITIONS.remove(self.group_id, *map(str, place))

    async def _commit(self, consumer: AIOKafkaConsumer, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._committed_at < COMMIT_INTERVAL_SECONDS:
            return
        self._committed_at = now
        owned = consumer.assignment()
        offsets = {
            TopicPartition(*place): offset + 1
            for place, offset in self.applied.items()
            if TopicPartition(*place) in owned
        }
        if offsets:
            try:
                await consumer.commit(offsets)
            except Exception as error:  # noqa: BLE001 - the positions are the truth; retried later
                log.warning("%s: could not commit offsets: %s", self.group_id, error)


class _Resuming(ConsumerRebalanceListener):
    def __init__(self, owner: BatchConsumer, consumer: AIOKafkaConsumer) -> None:
        self.owner, self.consumer = owner, consumer

    async def on_partitions_revoked(self, revoked) -> None:
        async with self.owner.applying:  # the batch under way is applied and recorded first
            self.owner.disown([(tp.topic, tp.partition) for tp in revoked])

    async def on_partitions_assigned(self, assigned) -> None:
        owner = self.owner
        places = [(tp.topic, tp.partition) for tp in assigned]
        positions = await owner.resume(places)
        for place, offset in positions.items():
            if offset >= 0:
                owner.applied[place] = offset
                self.consumer.seek(TopicPartition(*place), offset + 1)
        owner.owned.update(places)
        for place in places:
            ASSIGNED_PARTITIONS.labels(owner.group_id, *map(str, place)).set(1)
        log.info("%s assigned %s", owner.group_id, sorted(places))
        owner.assigned.set()
