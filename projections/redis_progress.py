"""Progress in Redis: how far each group of agents has applied each partition, and the
read-your-writes ledger (where each user's last writes landed), beside the caches readers
already use."""

from __future__ import annotations

from redis.asyncio import Redis

from infra.redis_scripts import run_scripts
from projections.redis_keys import RedisKeys
from streams.topics import Partition

# Keep the larger offset (a restarted consumer may re-read a little of the log), and beside
# it the id of the last event applied there, if given: ARGV offset, field, event id or ''.
_ADVANCE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1])
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) end
end
"""


class RedisProgress:
    """Progress (projections/progress.py) in Redis."""

    def __init__(self, redis: Redis, keys: RedisKeys, agent_group: str) -> None:
        self.redis, self.keys, self.agent_group = redis, keys, agent_group
        self._advance = redis.register_script(_ADVANCE)

    async def advance(
        self,
        positions: dict[Partition, int],
        group: str | None = None,
        event_ids: dict[Partition, int] | None = None,
    ) -> None:
        """Record how far a group of agents (the primary projections by default) has applied
        each partition, and the id of the last event applied there where `event_ids` has it:
        what a restored log is searched for (operations/durability.py)."""
        group = group or self.agent_group
        events_key, event_ids = self.keys.applied_events(group), event_ids or {}
        await run_scripts(
            self.redis,
            [
                (
                    self._advance,
                    [self.keys.position(group, *place), events_key],
                    [offset, f"{place[0]}:{place[1]}", event_ids.get(place, "")],
                )
                for place, offset in positions.items()
            ],
        )

    async def applied_events(self, group: str | None = None) -> dict[Partition, int]:
        """The id of the last event a group applied, per partition, where it was recorded."""
        # redis-py types the async client's replies as sync ones too
        raw = await self.redis.hgetall(self.keys.applied_events(group or self.agent_group))  # type: ignore[misc]
        return {_place(field): int(event_id) for field, event_id in raw.items()}

    async def positions(
        self, places: list[Partition], group: str | None = None
    ) -> dict[Partition, int]:
        """How far a group (the primary projections by default) has applied each of `places`:
        the last applied offset, -1 where none is recorded."""
        if not places:
            return {}
        values = await self.redis.mget(
            [self.keys.position(group or self.agent_group, *place) for place in places]
        )
        return {
            place: int(value) if value is not None else -1
            for place, value in zip(places, values, strict=True)
        }

    async def applied(self, group: str | None = None) -> dict[str, int]:
        """Every recorded position of a group: "topic:partition" -> last applied offset."""
        prefix = self.keys.position_prefix(group or self.agent_group)
        keys = [key async for key in self.redis.scan_iter(match=f"{prefix}*", count=1000)]
        values = await self.redis.mget(keys) if keys else []
        return {
            key.decode()[len(prefix) :]: int(value)
            for key, value in zip(keys, values, strict=True)
            if value is not None
        }

    async def remember_write(
        self, user_id: int, topic: str, partition: int, offset: int, ttl_seconds: int
    ) -> None:
        key = self.keys.last_write(user_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, f"{topic}:{partition}", str(offset))
            pipe.expire(key, ttl_seconds)
            await pipe.execute()

    async def last_writes(self, user_id: int) -> dict[Partition, int]:
        # redis-py types the async client's replies as sync ones too
        raw = await self.redis.hgetall(self.keys.last_write(user_id))  # type: ignore[misc]
        return {_place(field): int(offset) for field, offset in raw.items()}


def _place(field: bytes) -> Partition:
    topic, partition = field.decode().rsplit(":", 1)
    return (topic, int(partition))
