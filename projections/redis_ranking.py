"""The ranked home timeline's Redis side: the kept engagements its features read (written by
the core agent, agents/core_redis.py) and the ranked snapshots its cursor pages through."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from redis.asyncio import Redis

from infra.redis_clients import is_cluster
from projections.ranking import PROOF_PER_FRIEND, Engagement, Kind, proof_window
from projections.redis_keys import RedisKeys
from projections.timeline_entries import Entry

# A ranked snapshot lives this long after it is made: a reader paging on later starts over.
SNAPSHOT_SECONDS = 1800
# sort key, tweet, retweeter (0: none), the reason's user (0: none) and kind (its letter, '-').
_PLACE = struct.Struct(">QQQQc")
# Each set's newest members in a score range, with their scores: KEYS the sets, ARGV the
# range's top (exclusive) and bottom and how many of each. One call, where a pipeline would
# cost the client a command each (a ranking reads 50).
_NEWEST_OF_EACH = """
local found = {}
for i, key in ipairs(KEYS) do
  found[i] = redis.call('ZREVRANGEBYSCORE', key, ARGV[1], ARGV[2], 'WITHSCORES', 'LIMIT', 0,
                        ARGV[3])
end
return found
"""


@dataclass(frozen=True)
class Place:
    """A place of a ranked snapshot: the entry, and who of the viewer's friends liked or
    retweeted it (the `reason`), if anyone."""

    entry: Entry
    reason_user: int | None = None
    reason_kind: Kind | None = None  # a like or a retweet

    def pack(self) -> bytes:
        kind = self.reason_kind.letter.encode() if self.reason_kind is not None else b"-"
        return _PLACE.pack(
            self.entry.sort_key,
            self.entry.tweet_id,
            self.entry.retweeted_by or 0,
            self.reason_user or 0,
            kind,
        )

    @classmethod
    def unpack(cls, raw: bytes) -> Place:
        sort_key, tweet_id, retweeter, user, kind = _PLACE.unpack(raw)
        return cls(
            Entry(sort_key, tweet_id, retweeter or None),
            user or None,
            Kind.of_letter(kind.decode()) if kind != b"-" else None,
        )


class RedisRanking:
    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self.redis, self.keys = redis, keys
        self._newest_of_each = redis.register_script(_NEWEST_OF_EACH)
        # The script reads keys of many users: on a cluster they live in other slots.
        self.cluster = is_cluster(redis)

    async def engagements(self, viewer: int, since_ms: int, now_ms: int) -> list[Engagement]:
        """The viewer's kept engagements made in [since_ms, now_ms)."""
        found = await self.redis.zrangebyscore(
            self.keys.engagements(viewer), since_ms, f"({now_ms}", withscores=True
        )
        return [Engagement.of_member(member, score) for member, score in found]

    async def recent_engagements(
        self, users: list[int], now_ms: int
    ) -> dict[int, list[Engagement]]:
        """Each user's newest PROOF_PER_FRIEND kept engagements in the proof window, in one
        round trip."""
        if not users:
            return {}
        start, end = proof_window(now_ms)
        keys = [self.keys.engagements(user) for user in users]
        if self.cluster:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.zrevrangebyscore(
                        key, f"({end}", start, start=0, num=PROOF_PER_FRIEND, withscores=True
                    )
                found = await pipe.execute()
        else:
            flat = await self._newest_of_each(keys=keys, args=[f"({end}", start, PROOF_PER_FRIEND])
            found = [zip(pairs[::2], map(float, pairs[1::2]), strict=True) for pairs in flat]
        return {
            user: [Engagement.of_member(member, score) for member, score in pairs]
            for user, pairs in zip(users, found, strict=True)
        }

    async def save_snapshot(self, viewer: int, snapshot: str, places: list[Place]) -> None:
        await self.redis.set(
            self.keys.ranked_snapshot(viewer, snapshot),
            b"".join(place.pack() for place in places) or b"-",
            ex=SNAPSHOT_SECONDS,
        )

    async def snapshot(
        self, viewer: int, snapshot: str, start: int, count: int
    ) -> tuple[list[Place], int] | None:
        """`count` places of a snapshot from place `start`, and how many it holds; None once
        it has expired."""
        key = self.keys.ranked_snapshot(viewer, snapshot)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.strlen(key)
            pipe.getrange(key, start * _PLACE.size, (start + count) * _PLACE.size - 1)
            length, raw = await pipe.execute()
        if not length:
            return None
        total = length // _PLACE.size
        places = [
            Place.unpack(raw[i : i + _PLACE.size])
            for i in range(0, len(raw) - _PLACE.size + 1, _PLACE.size)
        ]
        return places, total
