"""Two agents workers apply a follow and a post by the followee at the same moment, in the
order where each misses the other: the follow's batch copies the followee's recents before the
post is in them, and the post's batch reads the followers before the follow is committed. The
follower's home timeline still gets the post (agents/core_second_look.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime

from agents.context import AgentContext
from agents.core import apply_core
from projections.fanout import CelebrityThreshold
from projections.read_models import build_read_models, setup_read_models
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


class _StalledRecents:
    """The timelines of a follow's batch: its recents are read, then it waits for `go`
    before going on (the other worker's post is applied meanwhile)."""

    def __init__(self, timelines) -> None:
        self._timelines = timelines
        self.read, self.go = asyncio.Event(), asyncio.Event()

    def __getattr__(self, name: str):
        return getattr(self._timelines, name)

    async def pages(self, *args, **kwargs):
        pages = await self._timelines.pages(*args, **kwargs)
        if not self.read.is_set():
            self.read.set()
            await self.go.wait()
        return pages


def test_a_post_and_a_follow_applied_at_once_by_two_workers_still_meet(stack):
    name = f"second_look_{uuid.uuid4().hex[:8]}"
    settings = stack.settings.model_copy(update={"read_schema": name, "redis_prefix": f"{name}:"})
    with store_loop(settings) as (loop, pool, redis):
        models = build_read_models(settings, pool, redis)

        def context(read_models) -> AgentContext:
            return AgentContext(
                settings=settings,
                models=read_models,
                threshold=CelebrityThreshold(100, 100, float("inf")),
                search=None,
                archive=None,
            )

        async def scenario() -> list[int]:
            await setup_read_models(models)
            await apply_core(
                context(models),
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
            await apply_core(context(models), [_post(EARLIER, "posted before")])
            stalled = _StalledRecents(models.timelines)
            follow = asyncio.create_task(
                apply_core(
                    context(dataclasses.replace(models, timelines=stalled)),
                    [
                        ev.UserFollowed(
                            event_id=10,
                            occurred_at=NOW,
                            actor_id=FOLLOWER,
                            follower_id=FOLLOWER,
                            followee_id=AUTHOR,
                        )
                    ],
                )
            )
            await stalled.read.wait()  # the follow has copied the recents: no post yet
            await apply_core(
                context(models), [_post(POST, "posted while the follow was under way")]
            )
            stalled.go.set()
            await follow
            members = await redis.zrange(models.keys.home(FOLLOWER), 0, -1)
            async with pool.connection() as conn:
                await conn.execute(f"DROP SCHEMA IF EXISTS {settings.core_schema} CASCADE")
            return [decode(member).tweet_id for member in members if member not in MARKERS]

        home = loop.run_until_complete(scenario())
    assert EARLIER in home and POST in home
