"""Applying events in batches leaves exactly what applying them one at a time does.

Hypothesis generates sequences of events over a few users and tweets (registrations, profile
edits, follows and unfollows, follow requests, blocks and mutes and their lifting, posts,
replies, deletes, likes, retweets and their undoing, and redeliveries of earlier events), cuts
them into random batches, and applies them through the core projection (agents/core.py) twice
on the real PostgreSQL and Valkey: one event at a time into one schema and key prefix, and
batch by batch into another. Every table row and every Redis key (timelines with their
markers, tweet and user caches, id sets, the kept engagements) must be equal.

Within a batch, the families apply in a fixed order (graph, tweets, engagements), as they do
live: so the one-at-a-time run applies each batch's events in that same order. Small caps and
a celebrity threshold of two followers make trims, partial markers and pulls happen.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.context import AgentContext
from agents.core import ENGAGEMENTS, GRAPH, TWEETS, apply_core
from projections.fanout import CelebrityThreshold
from projections.read_models import build_read_models, setup_read_models
from projections.timeline_entries import COMPLETE, PARTIAL
from schemas import events as ev
from tests.support.store_loop import store_loop

USERS = [1, 2, 3, 4]
TWEETS_POOL = [101, 102, 103, 104]
START = datetime(2026, 11, 1, tzinfo=UTC)
CAP = 3


def _author(tweet_id: int) -> int:
    return USERS[tweet_id % len(USERS)]


def _two_users(a: int, b: int) -> tuple[int, int]:
    """Two different users, drawn from the numbers a and b."""
    user, other = USERS[a % len(USERS)], USERS[b % len(USERS)]
    return (user, other) if user != other else (user, USERS[(b + 1) % len(USERS)])


def _event(kind: str, a: int, b: int, n: int) -> ev.Event:
    """The n-th generated event: ids and times follow n, so redeliveries repeat one exactly."""
    at, event_id = START + timedelta(seconds=n), 10_000 + n
    index = a % len(TWEETS_POOL)
    tweet = TWEETS_POOL[index]
    user = USERS[b % len(USERS)]
    match kind:
        case "register":
            return ev.UserRegistered(
                event_id=event_id,
                occurred_at=at,
                actor_id=user,
                user_id=user,
                username=f"u{user}",
                display_name=f"U{n}",
            )
        case "profile":
            return ev.ProfileUpdated(
                event_id=event_id,
                occurred_at=at,
                actor_id=user,
                user_id=user,
                display_name=f"P{n}" if a % 2 else None,
                bio=f"bio {n}" if a % 3 else None,
            )
        case "follow" | "unfollow":
            follower, followee = _two_users(a, b)
            cls = ev.UserFollowed if kind == "follow" else ev.UserUnfollowed
            return cls(
                event_id=event_id,
                occurred_at=at,
                actor_id=follower,
                follower_id=follower,
                followee_id=followee,
            )
        case "request" | "decline":
            follower, followee = _two_users(a, b)
            cls = ev.FollowRequested if kind == "request" else ev.FollowRequestDeclined
            return cls(
                event_id=event_id,
                occurred_at=at,
                actor_id=follower,
                follower_id=follower,
                followee_id=followee,
            )
        case "block" | "unblock" | "mute" | "unmute":
            maker, other = _two_users(a, b)
            if kind in ("block", "unblock"):
                cls = ev.UserBlocked if kind == "block" else ev.UserUnblocked
                return cls(
                    event_id=event_id,
                    occurred_at=at,
                    actor_id=maker,
                    blocker_id=maker,
                    blocked_id=other,
                )
            cls = ev.UserMuted if kind == "mute" else ev.UserUnmuted
            return cls(
                event_id=event_id, occurred_at=at, actor_id=maker, muter_id=maker, muted_id=other
            )
        case "post":
            # A tweet is always the same post (its redelivery carries the same fields).
            reply_to = TWEETS_POOL[(index + 1) % len(TWEETS_POOL)] if index % 2 else None
            return ev.TweetPosted(
                event_id=tweet * 7,
                occurred_at=START + timedelta(seconds=tweet),
                actor_id=_author(tweet),
                tweet_id=tweet,
                author_id=_author(tweet),
                content=f"tweet {tweet}",
                reply_to=reply_to,
                reply_to_author_id=None if reply_to is None else _author(reply_to),
            )
        case "delete":
            return ev.TweetDeleted(
                event_id=event_id,
                occurred_at=at,
                actor_id=_author(tweet),
                tweet_id=tweet,
                author_id=_author(tweet),
            )
        case "like" | "unlike":
            cls = ev.TweetLiked if kind == "like" else ev.TweetUnliked
            return cls(
                event_id=event_id,
                occurred_at=at,
                actor_id=user,
                tweet_id=tweet,
                user_id=user,
                author_id=_author(tweet),
            )
        case _:
            cls = ev.TweetRetweeted if kind == "retweet" else ev.TweetUnretweeted
            return cls(
                event_id=event_id,
                occurred_at=at,
                actor_id=user,
                tweet_id=tweet,
                user_id=user,
                author_id=_author(tweet),
            )


KINDS = [
    "register",
    "profile",
    "follow",
    "unfollow",
    "request",
    "decline",
    "block",
    "unblock",
    "mute",
    "unmute",
    "post",
    "delete",
    "like",
    "unlike",
    "retweet",
    "unretweet",
]
# Few users and tweets, so that events meet: the same like undone, the same edge refollowed.
steps = st.lists(
    st.tuples(st.sampled_from([*KINDS, "again"]), st.integers(0, 7), st.integers(0, 3)),
    min_size=1,
    max_size=60,
)


def _sequence(drawn) -> list[ev.Event]:
    events: list[ev.Event] = []
    for n, (kind, a, b) in enumerate(drawn):
        if kind == "again":  # a redelivery of an earlier event
            if events:
                events.append(events[a * 7 % len(events)])
            continue
        events.append(_event(kind, a, b, n))
    return events


def _family_order(batch: list[ev.Event]) -> list[ev.Event]:
    return (
        [e for e in batch if isinstance(e, GRAPH)]
        + [e for e in batch if isinstance(e, TWEETS)]
        + [e for e in batch if isinstance(e, ENGAGEMENTS)]
    )


class Side:
    """One schema and key prefix, with the caches that exist before the events come."""

    def __init__(self, settings, pool, redis, name: str) -> None:
        self.settings = settings.model_copy(
            update={
                "read_schema": f"batch_{name}",
                "redis_prefix": f"batch-{name}:",
                "home_timeline_cap": CAP,
                "recent_cap": CAP,
            }
        )
        self.models = build_read_models(self.settings, pool, redis)
        self.context = AgentContext(
            settings=self.settings,
            models=self.models,
            threshold=CelebrityThreshold(2, 1, float("inf")),
            search=None,
            archive=None,
        )

    async def reset(self) -> None:
        models, keys = self.models, self.models.keys
        async with models.pool.connection() as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {self.settings.core_schema} CASCADE")
        await setup_read_models(models)
        stale = [key async for key in models.redis.scan_iter(match=f"{keys.prefix}*")]
        if stale:
            await models.redis.delete(*stale)
        # Users 1 and 2 are active readers (3 was trimmed before), 4 has no timeline; some
        # recents and id sets are loaded, others not.
        for user, marker in ((1, COMPLETE), (2, COMPLETE), (3, PARTIAL)):
            await models.redis.zadd(keys.home(user), {marker: 0})
        for author in (1, 2, 3):
            await models.redis.zadd(keys.recent(author), {COMPLETE: 0})
        for key in (
            keys.following(1),
            keys.following(3),
            keys.liked(2),
            keys.retweeted(1),
            keys.pulled_authors(),
        ):
            await models.redis.sadd(key, "0")

    async def dump(self) -> dict:
        """Every row of every table and every key, as comparable data."""
        state: dict = {}
        models, schema = self.models, self.settings.core_schema
        async with models.pool.connection() as conn:
            tables = [
                row[0]
                for row in await (
                    await conn.execute(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                        (schema,),
                    )
                ).fetchall()
            ]
            for table in sorted(tables):
                rows = await (await conn.execute(f"SELECT * FROM {schema}.{table}")).fetchall()
                state[f"table {table}"] = sorted(rows, key=repr)
        redis, prefix = models.redis, models.keys.prefix
        async for key in redis.scan_iter(match=f"{prefix}*"):
            name = key.decode()[len(prefix) :]
            if name == "stats":
                continue  # a metric (deliveries counted), not a read model
            kind = (await redis.type(key)).decode()
            read = {
                "zset": lambda key: redis.zrange(key, 0, -1, withscores=True),
                "hash": redis.hgetall,
                "set": redis.smembers,
                "string": redis.get,
            }[kind]
            state[f"key {name}"] = (kind, await read(key), await redis.ttl(key) > 0)
        return state


@pytest.fixture(scope="module")
def sides(stack):
    with store_loop(stack.settings) as (loop, pool, redis):
        name = uuid.uuid4().hex[:6]
        one, batched = (
            Side(stack.settings, pool, redis, f"one_{name}"),
            Side(stack.settings, pool, redis, f"many_{name}"),
        )
        yield loop, one, batched
        for side in (one, batched):
            loop.run_until_complete(side.reset())

            async def drop(side=side):
                async with pool.connection() as conn:
                    await conn.execute(f"DROP SCHEMA IF EXISTS {side.settings.core_schema} CASCADE")

            loop.run_until_complete(drop())


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=steps, cuts=st.lists(st.integers(1, 40), max_size=8))
def test_batches_leave_what_one_event_at_a_time_leaves(sides, drawn, cuts):
    loop, one, batched = sides
    events = _sequence(drawn)
    bounds = sorted({0, len(events), *(cut for cut in cuts if cut < len(events))})
    batches = [_family_order(events[a:b]) for a, b in itertools.pairwise(bounds)]

    async def run():
        await one.reset()
        await batched.reset()
        for batch in batches:
            for event in batch:
                await apply_core(one.context, [event])
            await apply_core(batched.context, batch)
        return await one.dump(), await batched.dump()

    alone, together = loop.run_until_complete(run())
    assert together == alone
