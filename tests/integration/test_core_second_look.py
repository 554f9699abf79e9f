"""Two agents workers apply a follow and a post by the followee at the same moment, in the
orders where each misses the other (agents/core_second_look.py); the follower's home timeline
still gets the post:

- the follow's batch copies the followee's recents, then stalls before its transaction while
  the post is applied whole (the post's batch reads the followers before the follow exists);
- the post's batch commits, then stalls before its Redis writes while the follow is applied
  whole (the follow copies recents the post is not in yet).
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime

import pytest

from agents.context import AgentContext
from agents.core import apply_core
from projections.fanout import CelebrityThreshold
from projections.read_models import build_read_models, setup_read_models
from projections.redis_agent_workers import RedisAgentWorkers
from projections.timeline_entries import COMPLETE, PARTIAL, decode
from schemas import events as ev
from tests.support.store_loop import store_loop

AUTHOR, FOLLOWER = 1, 2
EARLIER, POST = 7_000_000_000_000_000_001, 7_000_000_000_000_000_002
NOW = datetime(2026, 12, 1, tzinfo=UTC)
MARKERS = (COMPLETE, PARTIAL)


def _post(tweet_id: int, content: str) -> ev.TweetPosted:
    return ev.TweetPosted(
        event_id=tweet_id,
        occurred_at=NOW,
        actor_id=AUTHOR,
        tweet_id=tweet_id,
        author_id=AUTHOR,
        content=content,
    )


FOLLOW = ev.UserFollowed(
    event_id=10, occurred_at=NOW, actor_id=FOLLOWER, follower_id=FOLLOWER, followee_id=AUTHOR
)


class _Stall:
    """Where one batch stops until `go`: `reached` once it is there."""

    def __init__(self) -> None:
        self.reached, self.go = asyncio.Event(), asyncio.Event()

    async def stop_here(self) -> None:
        if not self.reached.is_set():
            self.reached.set()
            await self.go.wait()


class _RecentsThenStall:
    """A batch's timelines: its first read of recents is done, then it stalls."""

    def __init__(self, timelines, stall: _Stall) -> None:
        self._timelines, self._stall = timelines, stall

    def __getattr__(self, name: str):
        return getattr(self._timelines, name)

    async def pages(self, *args, **kwargs):
        pages = await self._timelines.pages(*args, **kwargs)
        await self._stall.stop_here()
        return pages


class _StallBeforeRedisWrites:
    """A batch's Redis client: its first pipeline waits (the transaction is committed)."""

    def __init__(self, redis, stall: _Stall) -> None:
        self._redis, self._stall = redis, stall

    def __getattr__(self, name: str):
        return getattr(self._redis, name)

    def pipeline(self, *args, **kwargs):
        return _StalledPipeline(self._redis.pipeline(*args, **kwargs), self._stall)


class _StalledPipeline:
    def __init__(self, pipeline, stall: _Stall) -> None:
        self._pipeline, self._stall = pipeline, stall

    async def __aenter__(self):
        await self._stall.stop_here()
        return await self._pipeline.__aenter__()

    async def __aexit__(self, *exc_info):
        return await self._pipeline.__aexit__(*exc_info)


@pytest.mark.parametrize("stalled", ["follow", "post"])
def test_a_post_and_a_follow_applied_at_once_by_two_workers_still_meet(stack, stalled):
    name = f"second_look_{uuid.uuid4().hex[:8]}"
    settings = stack.settings.model_copy(update={"read_schema": name, "redis_prefix": f"{name}:"})
    with store_loop(settings) as (loop, pool, redis):
        models = build_read_models(settings, pool, redis)
        # Two live workers: each batch takes its second look.
        workers = RedisAgentWorkers(redis, models.keys, name)

        def context(read_models, worker: str) -> AgentContext:
            return AgentContext(
                settings=settings,
                models=read_models,
                threshold=CelebrityThreshold(100, 100, float("inf")),
                search=None,
                archive=None,
                worker=worker,
                workers=workers,
            )

        async def scenario() -> list[int]:
            await setup_read_models(models)
            for worker in ("posting", "following"):
                await workers.heartbeat(worker)
            await apply_core(
                context(models, "posting"),
                [
                    ev.UserRegistered(
                        event_id=n,
                        occurred_at=NOW,
                        actor_id=user,
                        user_id=user,
                        username=f"user{user}",
                        display_name=f"User {user}",
                    )
                    for n, user in enumerate((AUTHOR, FOLLOWER), 1)
                ],
            )
            await redis.zadd(models.keys.home(FOLLOWER), {COMPLETE: 0})  # an active reader
            await redis.zadd(models.keys.recent(AUTHOR), {COMPLETE: 0})
            # An earlier post: the follow copies from the recents, not the store.
            await apply_core(context(models, "posting"), [_post(EARLIER, "posted before")])
            stall = _Stall()
            following, posting = context(models, "following"), context(models, "posting")
            if stalled == "follow":
                following.models = dataclasses.replace(
                    models, timelines=_RecentsThenStall(models.timelines, stall)
                )
                first, second = following, posting
                events = [[FOLLOW], [_post(POST, "posted while the follow was under way")]]
            else:
                posting.models = dataclasses.replace(
                    models, redis=_StallBeforeRedisWrites(redis, stall)
                )
                first, second = posting, following
                events = [[_post(POST, "posted while the follow was under way")], [FOLLOW]]
            stalled_batch = asyncio.create_task(apply_core(first, events[0]))
            await stall.reached.wait()
            await apply_core(second, events[1])
            stall.go.set()
            await stalled_batch
            members = await redis.zrange(models.keys.home(FOLLOWER), 0, -1)
            async with pool.connection() as conn:
                await conn.execute(f"DROP SCHEMA IF EXISTS {settings.core_schema} CASCADE")
            return [decode(member).tweet_id for member in members if member not in MARKERS]

        home = loop.run_until_complete(scenario())
    assert EARLIER in home and POST in home
