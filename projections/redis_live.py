"""The live events in one Redis stream: the agents append to it, each API process reads it.

A stream rather than pub/sub: an entry's id (`<milliseconds>-<sequence>`, given by Redis,
increasing) is the SSE event id, and a reader that reconnects reads what it missed from the
stream itself (`XRANGE`). The stream keeps the newest `retention` entries, trimmed as the
agents append (`MAXLEN ~`: whole nodes at a time, so a little more may stay); how far back a
reader may resume is exactly known (`covers`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from projections.live_events import LiveEvent
from projections.redis_batch import RedisBatch

FIELD = b"e"
# A stream entry id as Redis gives them (and as Last-Event-ID must name one).
ENTRY_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")
NO_ENTRY = "0-0"


def entry_key(entry_id: str) -> tuple[int, int]:
    """An entry id as a comparable pair."""
    milliseconds, sequence = entry_id.split("-")
    return int(milliseconds), int(sequence)


class RedisLiveEvents:
    def __init__(self, redis: Redis, key: str, retention: int) -> None:
        self.redis, self.key, self.retention = redis, key, retention

    def queue(self, batch: RedisBatch, events: Sequence[LiveEvent]) -> None:
        """Append `events` to the stream as part of `batch` (after the batch's other writes,
        so a reader that fetches on an event sees what it announces)."""
        for event in events:
            batch.command(
                "XADD", self.key, "MAXLEN", "~", self.retention, "*", FIELD, event.encode()
            )

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        """Append `events` in one round trip."""
        batch = RedisBatch(self.redis)
        self.queue(batch, events)
        await batch.execute()

    async def newest(self) -> str:
        """The id of the newest entry ever appended ("0-0" if none)."""
        info = await self._info()
        return info.get("last-generated-id", NO_ENTRY)

    async def covers(self, after: str) -> bool:
        """Whether every entry appended after `after` is still in the stream (none trimmed)
        and `after` is not ahead of the stream (an id of a stream since lost)."""
        info = await self._info()
        trimmed = info.get("max-deleted-entry-id", NO_ENTRY)
        newest = info.get("last-generated-id", NO_ENTRY)
        return entry_key(trimmed) <= entry_key(after) <= entry_key(newest)

    async def read(self, after: str, count: int, block_ms: int) -> list[tuple[str, LiveEvent]]:
        """Entries after `after`, oldest first, at most `count`; waits up to `block_ms` for
        the first one."""
        found = await self.redis.xread({self.key: after}, count=count, block=block_ms)
        if isinstance(found, dict):  # RESP3
            found = list(found.items())
        return [entry for _, entries in found or [] for entry in _decoded(entries)]

    async def since(self, after: str, count: int) -> list[tuple[str, LiveEvent]]:
        """Up to `count` entries after `after`, oldest first (what a reconnecting reader
        missed)."""
        return _decoded(await self.redis.xrange(self.key, f"({after}", "+", count=count))

    async def _info(self) -> dict[str, str]:
        try:
            raw = await self.redis.execute_command("XINFO", "STREAM", self.key)
        except ResponseError:  # no such key: nothing appended yet
            return {}
        if isinstance(raw, list):
            raw = dict(zip(raw[::2], raw[1::2], strict=True))
        return {_text(name): _text(value) for name, value in raw.items() if _is_text(value)}


def _decoded(entries) -> list[tuple[str, LiveEvent]]:
    return [(_text(entry_id), LiveEvent.decode(fields[FIELD])) for entry_id, fields in entries]


def _is_text(value) -> bool:
    return isinstance(value, bytes | str)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
