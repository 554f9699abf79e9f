"""The notifications read model ends the same however its events come: one at a time, in
batches, with redeliveries, and with the topics interleaved differently (as a replay reading
partitions side by side does), each key's events staying in log order.

Hypothesis generates events over a few users and tweets (posts that mention, reply and quote,
deletes, likes and retweets and their undoing, follows and unfollows, marks read, and
redeliveries), applies them through the notifications agent (agents/notifications.py) on the
real PostgreSQL three ways (one at a time; in batches; in batches of another interleaving of
the keys), into three schemas, and compares every row.
"""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.context import AgentContext
from agents.notifications import apply_notifications
from projections.read_models import build_read_models
from schemas import events as ev
from streams.topics import TopicRegistry
from tests.support.store_loop import store_loop

USERS = [1, 2, 3, 4]
TWEETS_POOL = [101, 102, 103, 104, 105]
START = datetime(2026, 11, 1, tzinfo=UTC)
# Three-hour spans: the generated events (a minute apart) fall into a few of them.
GROUP_SECONDS = 3 * 3600


def _author(tweet_id: int) -> int:
    return USERS[tweet_id % len(USERS)]


def _event(kind: str, a: int, b: int, n: int) -> ev.Event:
    """The n-th generated event: ids and times follow n, so a redelivery repeats one exactly."""
    at, event_id = START + timedelta(minutes=n), 10_000 + n
    tweet = TWEETS_POOL[a % len(TWEETS_POOL)]
    user = USERS[b % len(USERS)]
    match kind:
        case "post":
            # A tweet is always the same post: it replies to, quotes and mentions by its id.
            parent = TWEETS_POOL[(a + 1) % len(TWEETS_POOL)]
            quoted = TWEETS_POOL[(a + 2) % len(TWEETS_POOL)]
            mentioned = tuple(USERS[(tweet + k) % len(USERS)] for k in range(tweet % 3))
            return ev.TweetPosted(
                event_id=tweet * 7,
                occurred_at=START + timedelta(minutes=tweet),
                actor_id=_author(tweet),
                tweet_id=tweet,
                author_id=_author(tweet),
                content=f"tweet {tweet}",
                reply_to=parent if tweet % 2 else None,
                reply_to_author_id=_author(parent) if tweet % 2 else None,
                quote_of=quoted if tweet % 3 == 0 else None,
                quote_of_author_id=_author(quoted) if tweet % 3 == 0 else None,
                mentions=tuple(f"u{m}" for m in mentioned),
                mentioned_ids=mentioned,
            )
        case "delete":
            return ev.TweetDeleted(
                event_id=event_id,
                occurred_at=at,
                actor_id=_author(tweet),
                tweet_id=tweet,
                author_id=_author(tweet),
            )
        case "like" | "unlike" | "retweet" | "unretweet":
            cls = {
                "like": ev.TweetLiked,
                "unlike": ev.TweetUnliked,
                "retweet": ev.TweetRetweeted,
                "unretweet": ev.TweetUnretweeted,
            }[kind]
            return cls(
                event_id=event_id,
                occurred_at=at,
                actor_id=user,
                tweet_id=tweet,
                user_id=user,
                author_id=_author(tweet),
            )
        case "follow" | "unfollow":
            follower, followee = USERS[a % len(USERS)], user
            cls = ev.UserFollowed if kind == "follow" else ev.UserUnfollowed
            return cls(
                event_id=event_id,
                occurred_at=at,
                actor_id=follower,
                follower_id=follower,
                followee_id=followee,
            )
        case _:
            return ev.NotificationsRead(
                event_id=event_id,
                occurred_at=at,
                actor_id=user,
                user_id=user,
                up_to=10_000 + a * 5,
            )


KINDS = ["post", "delete", "like", "unlike", "retweet", "unretweet", "follow", "unfollow", "read"]
steps = st.lists(
    st.tuples(st.sampled_from([*KINDS, "again"]), st.integers(0, 9), st.integers(0, 3)),
    min_size=1,
    max_size=60,
)
ROUTES = TopicRegistry()


def _sequence(drawn) -> list[ev.Event]:
    events: list[ev.Event] = []
    for n, (kind, a, b) in enumerate(drawn):
        if kind == "again":  # a redelivery of an earlier event
            if events:
                events.append(events[a * 7 % len(events)])
            continue
        events.append(_event(kind, a, b, n))
    return events


def _interleaved(events: list[ev.Event], seed: int) -> list[ev.Event]:
    """The events merged in another order: only those of one key (topic and message key, so
    one partition) keep their order, as the log keeps nothing more."""
    queues: dict[tuple[str, bytes], list[ev.Event]] = {}
    for event in events:
        queues.setdefault(ROUTES.route(event), []).append(event)
    merged, chooser = [], random.Random(seed)
    while queues:
        topic = chooser.choice(sorted(queues))
        merged.append(queues[topic].pop(0))
        if not queues[topic]:
            del queues[topic]
    return merged


class Side:
    """A notifications schema of its own."""

    def __init__(self, stack_settings, pool, redis, name: str) -> None:
        self.settings = stack_settings.model_copy(
            update={"read_schema": f"notes_{name}", "notification_group_seconds": GROUP_SECONDS}
        )
        self.models = build_read_models(self.settings, pool, redis)
        self.context = AgentContext(
            settings=self.settings, models=self.models, threshold=None, search=None, archive=None
        )

    async def reset(self) -> None:
        await self.models.notifications.drop()
        await self.models.notifications.setup()

    async def dump(self) -> dict:
        schema = self.settings.notifications_schema
        async with self.models.pool.connection() as conn:
            return {
                table: sorted(
                    await (await conn.execute(f"SELECT * FROM {schema}.{table}")).fetchall(),
                    key=repr,
                )
                for table in ("actions", "groups", "read_marks", "deleted_tweets")
            }


@pytest.fixture(scope="module")
def sides(stack):
    with store_loop(stack.settings) as (loop, pool, redis):
        name = uuid.uuid4().hex[:6]
        three = [
            Side(stack.settings, pool, redis, f"{way}_{name}") for way in ("one", "many", "mixed")
        ]
        yield loop, three
        for side in three:
            loop.run_until_complete(side.models.notifications.drop())


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=steps, cuts=st.lists(st.integers(1, 40), max_size=8), seed=st.integers(0, 2**16))
def test_batches_redeliveries_and_interleavings_leave_the_same_notifications(
    sides, drawn, cuts, seed
):
    loop, (one, many, mixed) = sides
    events = _sequence(drawn)
    bounds = sorted({0, len(events), *(cut for cut in cuts if cut < len(events))})
    reordered = _interleaved(events, seed)

    async def run():
        for side in (one, many, mixed):
            await side.reset()
        for event in events:
            await apply_notifications(one.context, [event])
        for a, b in itertools.pairwise(bounds):
            await apply_notifications(many.context, events[a:b])
            await apply_notifications(mixed.context, reordered[a:b])
        return await one.dump(), await many.dump(), await mixed.dump()

    alone, batched, interleaved = loop.run_until_complete(run())
    assert batched == alone
    assert interleaved == alone
    # The groups agree with the actions they count (and the newest of them).
    for recipient, kind, target, span, actors, latest in alone["groups"]:
        members = [
            row
            for row in alone["actions"]
            if (row[3], row[1], row[0], row[4]) == (recipient, kind, target, span)
        ]
        assert (actors, latest) == (len(members), max(row[5] for row in members))
    assert len(alone["groups"]) == len({(r[3], r[1], r[0], r[4]) for r in alone["actions"]})
