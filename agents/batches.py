"""The loop every agent runs: take a batch, apply each event, record progress, dead-letter poison."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

import orjson
from psycopg import OperationalError
from psycopg_pool import PoolTimeout
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agents.context import AgentContext, group_of
from infra.metrics import CONSUMER_POSITION, DEAD_LETTERS, EVENTS_APPLIED
from schemas.events import Event, UndecodableEvent, decode

log = logging.getLogger("chirp.agents")

BATCH_SIZE = 200
# Keys of one partition applied side by side (each key's events still strictly in order): a
# tweet's fan-out is mostly waiting on PostgreSQL and Redis, so one author at a time leaves
# the worker idle.
KEYS_IN_FLIGHT = 16
# Wait at most this long to fill a batch: bounds the latency a batch adds to a lone event.
BATCH_WINDOW_SECONDS = 0.005
# Attempts for an event that fails for a reason other than an unreachable dependency.
ATTEMPTS = 3
# A dependency that is down stops this partition (retrying) instead of dead-lettering.
OUTAGES = (OperationalError, PoolTimeout, RedisConnectionError, RedisTimeoutError, OSError)

Handler = Callable[[AgentContext, Event], Awaitable[None]]


async def consume(stream, context: AgentContext, handle: Handler, dead_letters) -> None:
    """Apply every event of `stream` with `handle`, in partition order, at least once."""
    async for batch in stream.take_events(BATCH_SIZE, within=BATCH_WINDOW_SECONDS):
        # Held while a replay takes over the core read models (agents/context.py).
        async with context.applying("core"):
            await _apply_batch(context, handle, batch, dead_letters)


async def _apply_batch(context: AgentContext, handle: Handler, batch, dead_letters) -> None:
    by_partition: dict[tuple[str, int], list] = {}
    for event in batch:
        message = event.message
        by_partition.setdefault((message.topic, message.partition), []).append(message)
    # Ordering holds per key (a key never spans two partitions): partitions, and the keys
    # within one, are applied side by side; each key's events strictly in order.
    await asyncio.gather(*(apply_partition(context, handle, messages, dead_letters)
                           for messages in by_partition.values()))
    # Readers wait on these to see their own writes.
    await record_progress(
        context, "core", {place: messages[-1].offset for place, messages in by_partition.items()},
        {place: len(messages) for place, messages in by_partition.items()})


async def record_progress(context: AgentContext, read_model: str,
                          positions: dict[tuple[str, int], int],
                          applied: dict[tuple[str, int], int] | None = None) -> None:
    """Record how far `read_model`'s agents have applied each partition: in Redis, where
    readers and replays wait on it, and in the metrics (with the events `applied`, if given)."""
    group = group_of(context.settings, read_model)
    await context.models.cache.advance(positions, group=group)
    for (topic, partition), offset in positions.items():
        CONSUMER_POSITION.labels(group, topic, str(partition)).set(offset)
        if applied is not None:
            EVENTS_APPLIED.labels(topic).inc(applied[(topic, partition)])


async def apply_partition(context: AgentContext, handle: Handler, messages, dead_letters) -> None:
    """Apply one partition's messages: each key's in order, different keys side by side."""
    by_key: dict[bytes | None, list] = {}
    for message in messages:
        by_key.setdefault(message.key, []).append(message)
    slots = asyncio.Semaphore(KEYS_IN_FLIGHT)

    async def in_order(same_key: list) -> None:
        async with slots:
            for message in same_key:
                await _apply(context, handle, message, dead_letters)

    await asyncio.gather(*(in_order(same_key) for same_key in by_key.values()))


async def _apply(context: AgentContext, handle: Handler, message, dead_letters) -> None:
    try:
        event = decode(message.value)
    except UndecodableEvent as error:
        await dead_letter(dead_letters, message, error)
        return
    failures = 0
    outage_delay = 0.1
    while True:
        try:
            await handle(context, event)
            return
        except OUTAGES as error:
            log.warning("dependency unavailable applying %s: %s; retrying", event.type_name(), error)
            await asyncio.sleep(outage_delay)
            outage_delay = min(outage_delay * 2, 5.0)
        except (ValidationError, ValueError, KeyError, TypeError) as error:
            await dead_letter(dead_letters, message, error)
            return
        except Exception as error:  # noqa: BLE001 - anything else: retry, then dead-letter
            failures += 1
            if failures >= ATTEMPTS:
                await dead_letter(dead_letters, message, error)
                return
            await asyncio.sleep(0.1 * failures)


async def dead_letter(dead_letters, message, error: BaseException) -> None:
    log.error("dead-lettering %s[%s]@%s: %r", message.topic, message.partition, message.offset, error)
    DEAD_LETTERS.labels(message.topic).inc()
    record = {
        "source_topic": message.topic, "partition": message.partition, "offset": message.offset,
        "key": _text(message.key), "value": _text(message.value),
        "error": f"{type(error).__name__}: {error}",
        "failed_at": datetime.now(timezone.utc).isoformat(),
    }
    await dead_letters.send(key=message.topic.encode(), value=orjson.dumps(record))


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(raw).decode()


async def until_available(step: Callable[[], Awaitable[None]], what: str,
                          transient: tuple[type[BaseException], ...] = ()) -> None:
    """Run `step()` until it succeeds: a store being down only delays the agent."""
    delay = 0.1
    while True:
        try:
            return await step()
        except (*OUTAGES, *transient) as error:
            log.warning("%s: a dependency is unavailable (%s); retrying", what, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def lag_seconds(event: Event) -> float:
    """How far behind the log this event is being applied, by event time."""
    return max(time.time() - event.occurred_at.timestamp(), 0.0)
