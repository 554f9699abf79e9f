"""Home timelines and author recents as lexicographic Redis sorted sets (see timeline_entries)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import NamedTuple

from redis.asyncio import Redis

from infra.redis_clients import by_slot
from projections.redis_batch import RedisBatch
from projections.redis_keys import RedisKeys
from projections.timeline_entries import (
    COMPLETE,
    FLOOR,
    PARTIAL,
    Entry,
    decode,
    encode,
    upper_bound,
)
from projections.timeline_writes import Push, Removal

# Keys per server-side script call when pushing to many timelines at once.
PUSH_BATCH = 500

# Push members into each listed timeline that exists (absent = inactive or not built yet:
# built from the store on its next read), then trim it to the cap, keeping the marker.
# ARGV: the cap; '1' if older entries than these may exist elsewhere; the members. A trim,
# or such a push, turns a COMPLETE timeline PARTIAL.
_PUSH = """
local cap = tonumber(ARGV[1])
local partial = ARGV[2] == '1'
local args = {}
for j = 3, #ARGV do
  args[#args + 1] = 0
  args[#args + 1] = ARGV[j]
end
local pushed = 0
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    if #args > 0 then redis.call('ZADD', key, unpack(args)) end
    local trimmed = redis.call('ZREMRANGEBYRANK', key, 1, -(cap + 1))
    if (trimmed > 0 or partial) and redis.call('ZREM', key, '') == 1 then
      redis.call('ZADD', key, 0, '\\0')
    end
    pushed = pushed + 1
  end
end
return pushed
"""
# The end of a build: ARGV as for _PUSH. A timeline the build filled completely, and that
# no trim cut, holds every entry there is: it becomes COMPLETE.
_FILL = """
local cap = tonumber(ARGV[1])
local args = {}
for j = 3, #ARGV do
  args[#args + 1] = 0
  args[#args + 1] = ARGV[j]
end
if #args > 0 then redis.call('ZADD', KEYS[1], unpack(args)) end
local trimmed = redis.call('ZREMRANGEBYRANK', KEYS[1], 1, -(cap + 1))
if trimmed == 0 and ARGV[2] == '0' and redis.call('ZREM', KEYS[1], '\\0') == 1 then
  redis.call('ZADD', KEYS[1], 0, '')
end
"""


# Delete a lock only if we still hold it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class TimelinePage(NamedTuple):
    entries: list[Entry]  # newest first
    complete: bool  # the timeline holds every entry there is: nothing older in the stores


@dataclass(frozen=True)
class HomeRead:
    """One round trip's view of a reader's home: all a first page needs when caches are warm."""

    following: set[int] | None  # None: the following set is not loaded
    pulled_loaded: bool
    celebrities: set[int]  # followed authors whose recents are merged at read time
    ready: bool  # the timeline exists and no build of it is under way
    page: TimelinePage
    wrote_recently: bool  # the reader has writes the agents may not have applied yet


class RedisTimelines:
    """Home timelines (one per active user) and recents (one per author), capped and ordered."""

    def __init__(
        self, redis: Redis, keys: RedisKeys, active_seconds: int, home_cap: int, recent_cap: int
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.active_seconds = active_seconds
        self.home_cap = home_cap
        self.recent_cap = recent_cap
        self._push = redis.register_script(_PUSH)
        self._fill = redis.register_script(_FILL)
        self._release = redis.register_script(_RELEASE)

    def queue_writes(
        self, batch: RedisBatch, writes: list[Push | Removal]
    ) -> list[tuple[int, int]]:
        """Queue a batch's timeline writes in their order; return, for each push call that
        counts as fan-out, (its result's index, entries per timeline): the deliveries are the
        timelines it reached (they exist) times the entries."""
        deliveries = []
        for write in writes:
            members = [encode(entry) for entry in write.entries]
            if isinstance(write, Removal):
                for key in write.keys:
                    batch.command("ZREM", key, *members)
                continue
            args = [write.cap, int(write.partial), *members]
            for keys in by_slot(self.redis, write.keys):
                for start in range(0, len(keys), PUSH_BATCH):
                    index = batch.script(self._push, keys[start : start + PUSH_BATCH], args)
                    if write.counted:
                        deliveries.append((index, len(members)))
        return deliveries

    async def create(self, key: str) -> None:
        """Mark a timeline present (pushes land from now on) before it is filled."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {PARTIAL: 0})
            pipe.expire(key, self.active_seconds)
            await pipe.execute()

    async def fill(self, key: str, entries: list[Entry], cap: int, complete: bool) -> None:
        """Add older entries to a timeline made by `create`, keeping the cap; `complete`:
        they are every entry there is (the load did not hit its limit)."""
        await self._fill(
            keys=[key], args=[cap, int(not complete), *(encode(entry) for entry in entries)]
        )

    async def page(self, key: str, before: int | None, limit: int) -> TimelinePage:
        [page] = await self.pages([key], before, limit)
        return page

    async def pages(
        self, keys: list[str], before: int | None, limit: int | list[int]
    ) -> list[TimelinePage]:
        """For each timeline, its entries older than `before`, newest first, at most `limit`
        (one for all, or one per timeline), in one round trip."""
        limits = limit if isinstance(limit, list) else [limit] * len(keys)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, most in zip(keys, limits, strict=True):
                pipe.zrevrangebylex(key, upper_bound(before), FLOOR, start=0, num=most)
                pipe.zrange(key, 0, 0)
            results = await pipe.execute()
        return [
            TimelinePage(
                [decode(member) for member in results[2 * i]], results[2 * i + 1] == [COMPLETE]
            )
            for i in range(len(keys))
        ]

    async def read_home(self, viewer: int, before: int | None, limit: int) -> HomeRead:
        keys = self.keys
        home, following, pulled = keys.home(viewer), keys.following(viewer), keys.pulled_authors()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.smembers(following)
            # The pulled authors are few (docs/read-models.md): intersected here, since on a
            # cluster the set and the viewer's following are in different slots.
            pipe.smembers(pulled)
            pipe.exists(home)
            pipe.exists(keys.build_lock(home))
            pipe.zrevrangebylex(home, upper_bound(before), FLOOR, start=0, num=limit)
            pipe.zrange(home, 0, 0)
            pipe.expire(home, self.active_seconds)
            pipe.exists(keys.last_write(viewer))
            (
                members,
                pulled_members,
                exists,
                building,
                page,
                marker,
                _,
                wrote,
            ) = await pipe.execute()
        return HomeRead(
            following={int(m) for m in members} - {0} if members else None,
            pulled_loaded=bool(pulled_members),
            celebrities={int(m) for m in set(members) & set(pulled_members)} - {0},
            ready=bool(exists) and not building,
            page=TimelinePage([decode(member) for member in page], marker == [COMPLETE]),
            wrote_recently=bool(wrote),
        )

    async def states_and_pages(
        self, keys: list[str], before: int | None, limit: int
    ) -> tuple[list[tuple[bool, bool]], list[TimelinePage]]:
        """`states` and `pages` of the timelines, in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.exists(key)
                pipe.exists(self.keys.build_lock(key))
                pipe.zrevrangebylex(key, upper_bound(before), FLOOR, start=0, num=limit)
                pipe.zrange(key, 0, 0)
            results = await pipe.execute()
        return (
            [(bool(results[4 * i]), bool(results[4 * i + 1])) for i in range(len(keys))],
            [
                TimelinePage(
                    [decode(member) for member in results[4 * i + 2]],
                    results[4 * i + 3] == [COMPLETE],
                )
                for i in range(len(keys))
            ],
        )

    async def states(self, keys: list[str]) -> list[tuple[bool, bool]]:
        """For each timeline: whether it exists, and whether a build of it is under way."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.exists(key)
                pipe.exists(self.keys.build_lock(key))
            flags = await pipe.execute()
        return [(bool(flags[2 * i]), bool(flags[2 * i + 1])) for i in range(len(keys))]

    async def build_once(self, key: str, load, cap: int, wait_seconds: float = 10.0) -> bool:
        """Build a missing timeline from `load()` unless another process is building it.

        Returns True if this call built it. The timeline is marked present before `load`
        runs, so entries pushed meanwhile land in it; readers treat it as missing until the
        build lock is gone. Waits for another process's build to finish.
        """
        lock = self.keys.build_lock(key)
        token = uuid.uuid4().hex
        if await self.redis.set(lock, token, nx=True, px=int(wait_seconds * 1000)):
            try:
                # Builders hold the lock from `create` to the end of `fill`: a timeline that
                # exists while we hold it was finished by a build that just released it.
                if await self.redis.exists(key):
                    return False
                await self.create(key)
                entries = await load()
                await self.fill(key, entries, cap, complete=len(entries) < cap)
                return True
            finally:
                await self._release(keys=[lock], args=[token])
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            [(exists, building)] = await self.states([key])
            if exists and not building:
                return False
            await asyncio.sleep(0.01)
        raise TimeoutError(f"timeline {key} was not built within {wait_seconds}s")
