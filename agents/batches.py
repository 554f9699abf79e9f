"""How a batch of records is applied: decoded, applied whole, poison isolated and dead-lettered."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import orjson
from psycopg import OperationalError
from psycopg_pool import PoolTimeout
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agents.context import AgentContext
from infra.metrics import CONSUMER_POSITION, DEAD_LETTERS, EVENTS_APPLIED
from projections.targets import group_of
from schemas.events import Event, UndecodableEvent, decode

log = logging.getLogger("chirp.agents")

# Attempts for an event that fails for a reason other than an unreachable dependency.
ATTEMPTS = 3
# A dependency that is down stops this read model (retrying) instead of dead-lettering.
OUTAGES = (OperationalError, PoolTimeout, RedisConnectionError, RedisTimeoutError, OSError)
# Failures that no retry mends: the event is poison.
POISON = (ValidationError, ValueError, KeyError, TypeError)

T = TypeVar("T")
Apply = Callable[[AgentContext, list[Event]], Awaitable[None]]


async def apply_records(context: AgentContext, records: list, apply: Apply, dead_letters) -> None:
    """Decode `records` (in log order) and `apply` them as one batch, at least once.

    An unreachable dependency is waited out. Should the batch fail otherwise, its events are
    applied one at a time to find the poison: each bad event goes to `dead_letters` with its
    error, and the rest apply."""
    events, sources = [], []
    for record in records:
        try:
            events.append(decode(record.value))
            sources.append(record)
        except UndecodableEvent as error:
            await dead_letter(dead_letters, record, error)
    if not events:
        return
    try:
        await until_available(lambda: apply(context, events), "applying a batch")
    except Exception as error:  # noqa: BLE001 - find the poison below
        log.warning(
            "a batch of %d events failed (%r): applying them one at a time", len(events), error
        )
        for event, record in zip(events, sources, strict=True):
            await _apply_alone(context, apply, event, record, dead_letters)


async def _apply_alone(
    context: AgentContext, apply: Apply, event: Event, record, dead_letters
) -> None:
    failures = 0
    while True:
        try:
            return await until_available(lambda: apply(context, [event]), event.type_name())
        except POISON as error:
            return await dead_letter(dead_letters, record, error)
        except Exception as error:  # noqa: BLE001 - anything else: retry, then dead-letter
            failures += 1
            if failures >= ATTEMPTS:
                return await dead_letter(dead_letters, record, error)
            await asyncio.sleep(0.1 * failures)


async def record_progress(
    context: AgentContext,
    read_model: str,
    positions: dict[tuple[str, int], int],
    applied: dict[tuple[str, int], int] | None = None,
    event_ids: dict[tuple[str, int], int] | None = None,
) -> None:
    """Record how far `read_model`'s agents have applied each partition: in Redis, where
    readers and replays wait on it (with the last event's id, if given), and in the metrics
    (with the events `applied`, if given)."""
    group = group_of(context.settings, read_model)
    await context.models.progress.advance(positions, group=group, event_ids=event_ids)
    for (topic, partition), offset in positions.items():
        CONSUMER_POSITION.labels(group, topic, str(partition)).set(offset)
        if applied is not None:
            EVENTS_APPLIED.labels(read_model, topic).inc(applied[(topic, partition)])


async def record_batch(context: AgentContext, read_model: str, records: list) -> None:
    """Record the progress a batch of event records (in log order per partition) makes."""
    last: dict[tuple[str, int], int] = {}
    counts: dict[tuple[str, int], int] = {}
    for record in records:
        place = (record.topic, record.partition)
        last[place] = record.offset
        counts[place] = counts.get(place, 0) + 1
    await record_progress(context, read_model, last, counts, last_event_ids(records))


def last_event_ids(records: list) -> dict[tuple[str, int], int]:
    """The id of the last event among `records` in each partition (poison has none)."""
    found: dict[tuple[str, int], int] = {}
    for record in reversed(records):
        place = (record.topic, record.partition)
        if place not in found:
            try:
                found[place] = int(orjson.loads(record.value)["event_id"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
    return found


async def dead_letter(dead_letters, message, error: BaseException) -> None:
    log.error(
        "dead-lettering %s[%s]@%s: %r", message.topic, message.partition, message.offset, error
    )
    DEAD_LETTERS.labels(message.topic).inc()
    record = {
        "source_topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "key": _text(message.key),
        "value": _text(message.value),
        "error": f"{type(error).__name__}: {error}",
        "failed_at": datetime.now(UTC).isoformat(),
    }
    await dead_letters.send(key=message.topic.encode(), value=orjson.dumps(record))


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(raw).decode()


async def until_available(
    step: Callable[[], Awaitable[T]], what: str, transient: tuple[type[BaseException], ...] = ()
) -> T:
    """Run `step()` until it succeeds, and return what it returns: a store being down only
    delays the agent."""
    retried: tuple[type[BaseException], ...] = (*OUTAGES, *transient)
    delay = 0.1
    while True:
        try:
            return await step()
        except retried as error:
            log.warning("%s: a dependency is unavailable (%s); retrying", what, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
