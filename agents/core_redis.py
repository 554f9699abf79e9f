"""The core projection's Redis step: the writes a planned batch makes, in one pipeline.

The caches (users, tweets and their counts, id sets) are written in the events' order; the
timelines after them, their pushes merged per group (projections/timeline_writes.py): an
author's entries of a batch go to their followers in one call per 500 timelines. The live
events for connected readers go last, in the same round trip: Redis runs a pipeline's
commands in order, so a reader told of a tweet finds it in the timelines (docs/streaming.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agents.context import AgentContext
from infra.metrics import FANOUT_DELIVERIES, FANOUT_LAG_SECONDS
from projections.engagement_plan import EngagementPlan, Liked, Retweeted
from projections.engagements import Counts
from projections.graph import EdgeChanges
from projections.graph_plan import GraphPlan
from projections.live_events import core_live_events
from projections.ranking import ENGAGEMENTS_PER_VIEWER, HalfLives, Kind, engagement_member
from projections.redis_batch import RedisBatch
from projections.redis_cache import CachedTweet
from projections.search_ranking import epoch_ms
from projections.timeline_entries import Entry
from projections.timeline_writes import TimelineWrites
from projections.tweet_plan import Posted, TweetPlan
from schemas import events as ev

# The authors a user engaged with, kept per user (the latest): the search's personal boost.
ENGAGED_AUTHORS = 100
# Each count is written to the cache by the family that changes it.
LIKES, RETWEETS, REPLIES, QUOTES = ("likes",), ("retweets",), ("replies",), ("quotes",)


@dataclass(frozen=True)
class Delivery:
    """A tweet or retweet for an author's followers, and whether it is pushed to them."""

    author_id: int
    entry: Entry
    lag_seconds: float
    push: bool = True


@dataclass
class Planned:
    """Everything a batch does, once PostgreSQL holds it: what Redis needs to follow."""

    graph: GraphPlan
    edges: EdgeChanges
    summaries: dict[int, tuple[str, str, bool]]  # edited users' (username, name, protected)
    tweets: TweetPlan
    engagements: EngagementPlan
    backfills: dict[int, tuple[list[Entry], bool]]  # followee -> (entries, complete)
    unfollowed_entries: dict[int, list[Entry]]  # followee -> entries to take out
    deliveries: list[Delivery]
    followers: dict[int, list[int]]
    counts: dict[int, Counts]
    threshold_moved: tuple[int, float] | None  # (threshold, lag) when lag moved it
    # The attachments, as shown, of the tweets posted with media and of those whose media
    # changed (`restyled`: processed, described or removed).
    attachments: dict[int, list[dict]]
    restyled: set[int]
    # After the batch, for each pair its blocks name ((lower id, higher id)): whether a block
    # stands between the two; for each (muter, muted) its mutes name: whether the mute holds.
    blocked: dict[tuple[int, int], bool]
    muted: dict[tuple[int, int], bool]


async def write_redis(context: AgentContext, planned: Planned) -> None:
    """Queue every Redis write of `planned` in order and send them in one pipeline."""
    models = context.models
    batch = RedisBatch(models.redis)
    timelines = TimelineWrites()
    _queue_graph(context, batch, timelines, planned)
    _queue_tweets(context, batch, timelines, planned)
    _queue_engagements(context, batch, timelines, planned)
    _queue_engaged_authors(context, batch, planned)
    _queue_kept_engagements(context, batch, planned)
    if planned.threshold_moved is not None:
        threshold, lag = planned.threshold_moved
        batch.command(
            "HSET", models.keys.fanout_state(), "threshold", threshold, "lag_seconds", round(lag, 3)
        )
    counted = models.timelines.queue_writes(batch, timelines.finish())
    if context.publishes_live:
        models.live.queue(
            batch,
            core_live_events(
                planned.graph,
                planned.edges,
                planned.tweets,
                planned.engagements,
                planned.counts,
                planned.blocked,
                planned.muted,
            ),
        )
    results = await batch.execute()
    delivered = sum(results[index] * entries for index, entries in counted)
    if delivered:
        await models.cache.count("fanout_deliveries", delivered)
    FANOUT_DELIVERIES.inc(delivered)
    for delivery in planned.deliveries:
        FANOUT_LAG_SECONDS.observe(delivery.lag_seconds)


def _queue_graph(
    context: AgentContext, batch: RedisBatch, timelines: TimelineWrites, planned: Planned
) -> None:
    models = context.models
    cache, keys = models.cache, models.keys
    for event in planned.graph.steps:
        match event:
            case ev.UserRegistered():
                # As PostgreSQL has it after the batch: a redelivered registration does not
                # undo a later edit (protection).
                summary = (event.username, event.display_name, False)
                cache.queue_user(
                    batch, event.user_id, *planned.summaries.get(event.user_id, summary)
                )
            case ev.ProfileUpdated() if event.user_id in planned.summaries:
                # As PostgreSQL has it after the batch: a redelivered edit writes the same.
                cache.queue_user(batch, event.user_id, *planned.summaries[event.user_id])
            case ev.UserFollowed() if (
                event.follower_id,
                event.followee_id,
            ) not in planned.edges.refused:
                cache.queue_if_loaded(
                    batch, keys.following(event.follower_id), "SADD", event.followee_id
                )
                entries, complete = planned.backfills[event.followee_id]
                home = keys.home(event.follower_id)
                timelines.push(
                    ("home", event.follower_id),
                    lambda: [home],  # noqa: B023 - push calls it at once
                    entries,
                    models.timelines.home_cap,
                    partial=not complete,
                )
            case ev.UserUnfollowed() if (
                event.follower_id,
                event.followee_id,
            ) not in planned.edges.kept:
                cache.queue_if_loaded(
                    batch, keys.following(event.follower_id), "SREM", event.followee_id
                )
                # Readers already drop unfollowed authors; this frees the entries themselves.
                timelines.remove(
                    [keys.home(event.follower_id)], planned.unfollowed_entries[event.followee_id]
                )
            case ev.UserBlocked():
                # The follows it ended, both ways (again on redelivery: nothing changes), but
                # a follow made after the block was lifted, which the store keeps.
                for user, other in (
                    (event.blocker_id, event.blocked_id),
                    (event.blocked_id, event.blocker_id),
                ):
                    if (user, other) in planned.edges.kept:
                        continue
                    cache.queue_if_loaded(batch, keys.following(user), "SREM", other)
                    timelines.remove([keys.home(user)], planned.unfollowed_entries[other])
    # The hidden and muted sets as PostgreSQL has them after the batch (a block either way
    # hides both from each other, whichever of them is lifted): a redelivery writes the same.
    for (low, high), blocked in planned.blocked.items():
        command = "SADD" if blocked else "SREM"
        cache.queue_if_loaded(batch, keys.hidden(low), command, high)
        cache.queue_if_loaded(batch, keys.hidden(high), command, low)
    for (muter, muted), holds in planned.muted.items():
        cache.queue_if_loaded(batch, keys.muted(muter), "SADD" if holds else "SREM", muted)


def _queue_tweets(
    context: AgentContext, batch: RedisBatch, timelines: TimelineWrites, planned: Planned
) -> None:
    models = context.models
    cache, counts = models.cache, planned.counts
    deliveries = iter(d for d in planned.deliveries if d.entry.retweeted_by is None)
    for step in planned.tweets.steps:
        if isinstance(step, Posted):
            posted = step.event
            _queue_linked_counts(context, batch, counts, posted.reply_to, posted.quote_of)
            # Absolute counts, each cached only if absent: the family that changes a count
            # overwrites it after every change, so whichever comes last is right.
            cache.queue_fill(
                batch,
                CachedTweet(
                    posted.tweet_id,
                    posted.author_id,
                    posted.content,
                    int(posted.occurred_at.timestamp() * 1000),
                    posted.reply_to,
                    counts=counts.get(posted.tweet_id, Counts()),
                    quote_of=posted.quote_of,
                    mentioned_ids=posted.mentioned_ids,
                    media=planned.attachments.get(posted.tweet_id, []),
                ),
            )
            _deliver(context, batch, timelines, next(deliveries), planned.followers)
        else:
            deleted = step.event
            cache.queue_deleted(batch, deleted.tweet_id)
            _queue_linked_counts(context, batch, counts, step.reply_to, step.quote_of)
            # Home timelines drop deleted tweets when read; the author's recents drop it now.
            timelines.remove(
                [models.keys.recent(deleted.author_id)], [Entry(deleted.tweet_id, deleted.tweet_id)]
            )
    for tweet_id in sorted(planned.restyled):
        cache.queue_media(batch, tweet_id, planned.attachments[tweet_id])


def _queue_linked_counts(
    context: AgentContext,
    batch: RedisBatch,
    counts: dict[int, Counts],
    reply_to: int | None,
    quote_of: int | None,
) -> None:
    """The reply count of the tweet a post or deletion replies to, the quote count of the
    one it quotes."""
    for tweet_id, fields in ((reply_to, REPLIES), (quote_of, QUOTES)):
        if tweet_id is not None:
            context.models.cache.queue_counts(
                batch, tweet_id, counts.get(tweet_id, Counts()), fields
            )


def _queue_engagements(
    context: AgentContext, batch: RedisBatch, timelines: TimelineWrites, planned: Planned
) -> None:
    models = context.models
    cache, keys, counts = models.cache, models.keys, planned.counts
    deliveries = iter(d for d in planned.deliveries if d.entry.retweeted_by is not None)
    for step in planned.engagements.steps:
        event = step.event
        tweet_counts = counts.get(event.tweet_id, Counts())
        if isinstance(step, Liked):
            cache.queue_counts(batch, event.tweet_id, tweet_counts, LIKES)
            command = "SADD" if isinstance(event, ev.TweetLiked) else "SREM"
            cache.queue_if_loaded(batch, keys.liked(event.user_id), command, event.tweet_id)
        elif isinstance(step, Retweeted):
            cache.queue_counts(batch, event.tweet_id, tweet_counts, RETWEETS)
            cache.queue_if_loaded(batch, keys.retweeted(event.user_id), "SADD", event.tweet_id)
            # Pushed again on redelivery too: the same member, so nothing doubles.
            _deliver(context, batch, timelines, next(deliveries), planned.followers)
        else:
            cache.queue_counts(batch, event.tweet_id, tweet_counts, RETWEETS)
            cache.queue_if_loaded(batch, keys.retweeted(event.user_id), "SREM", event.tweet_id)
            if step.sort_key is not None:
                entry = Entry(step.sort_key, event.tweet_id, event.user_id)
                timelines.remove(
                    [keys.recent(event.user_id), keys.home(event.user_id)]
                    + [keys.home(f) for f in planned.followers[event.user_id]],
                    [entry],
                )


def _queue_engaged_authors(context: AgentContext, batch: RedisBatch, planned: Planned) -> None:
    """For each user, the authors whose tweets they replied to, liked or retweeted in the
    batch, at the time of the last such engagement (only ever later: ZADD GT), keeping each
    user's ENGAGED_AUTHORS latest. Whatever the batches and redeliveries, the set ends as the
    latest authors of all the events applied."""
    latest: dict[int, dict[int, int]] = {}

    def note(user_id: int, author_id: int | None, at: datetime) -> None:
        if author_id is not None and author_id != user_id:
            authors = latest.setdefault(user_id, {})
            authors[author_id] = max(authors.get(author_id, 0), epoch_ms(at))

    for step in planned.tweets.steps:
        if isinstance(step, Posted):
            note(step.event.author_id, step.event.reply_to_author_id, step.event.occurred_at)
    for engagement in planned.engagements.steps:
        if isinstance(engagement.event, ev.TweetLiked | ev.TweetRetweeted):
            event = engagement.event
            note(event.user_id, event.author_id, event.occurred_at)
    keys = context.models.keys
    for user_id, authors in sorted(latest.items()):
        key = keys.engaged_authors(user_id)
        scored = [item for author, at in sorted(authors.items()) for item in (at, author)]
        batch.command("ZADD", key, "GT", *scored)
        batch.command("ZREMRANGEBYRANK", key, 0, -(ENGAGED_AUTHORS + 1))


def _queue_kept_engagements(context: AgentContext, batch: RedisBatch, planned: Planned) -> None:
    """Each user's latest likes, retweets and replies of others' tweets (the ranked timeline's
    affinities): added as made, taken out when undone, in the events' order; then each user's
    set trimmed to the horizon and to ENGAGEMENTS_PER_VIEWER. A set of engagements ends the
    same whatever the batches and redeliveries (docs/ranking.md)."""
    keys = context.models.keys
    latest: dict[int, int] = {}

    def add(user_id: int, kind: Kind, tweet_id: int, author_id: int | None, at: datetime) -> None:
        if author_id is not None and author_id != user_id:
            ms = epoch_ms(at)
            batch.command(
                "ZADD", keys.engagements(user_id), ms, engagement_member(kind, tweet_id, author_id)
            )
            latest[user_id] = max(latest.get(user_id, 0), ms)

    for step in planned.tweets.steps:
        if isinstance(step, Posted) and (parent := step.event.reply_to) is not None:
            posted = step.event
            add(posted.author_id, Kind.REPLY, parent, posted.reply_to_author_id, posted.occurred_at)
    for engagement in planned.engagements.steps:
        event = engagement.event
        kind = Kind.LIKE if isinstance(event, ev.TweetLiked | ev.TweetUnliked) else Kind.RETWEET
        if isinstance(event, ev.TweetLiked | ev.TweetRetweeted):
            add(event.user_id, kind, event.tweet_id, event.author_id, event.occurred_at)
        elif event.author_id is not None:
            member = engagement_member(kind, event.tweet_id, event.author_id)
            batch.command("ZREM", keys.engagements(event.user_id), member)
    horizon = HalfLives.of_settings(context.settings).horizon_ms()
    for user_id, at in sorted(latest.items()):
        key = keys.engagements(user_id)
        batch.command("ZREMRANGEBYSCORE", key, "-inf", f"({at - horizon}")
        batch.command("ZREMRANGEBYRANK", key, 0, -(ENGAGEMENTS_PER_VIEWER + 1))


def _deliver(
    context: AgentContext,
    batch: RedisBatch,
    timelines: TimelineWrites,
    delivery: Delivery,
    followers: dict[int, list[int]],
) -> None:
    """An entry into its author's recents and own home timeline, then to the followers' (push)
    or into the authors readers merge (pull)."""
    models = context.models
    keys, author = models.keys, delivery.author_id
    timelines.push(
        ("recent", author),
        lambda: [keys.recent(author)],
        [delivery.entry],
        models.timelines.recent_cap,
    )
    timelines.push(
        ("own home", author),
        lambda: [keys.home(author)],
        [delivery.entry],
        models.timelines.home_cap,
        counted=True,
    )
    if delivery.push:
        timelines.push(
            ("followers", author),
            lambda: [keys.home(f) for f in followers[author]],
            [delivery.entry],
            models.timelines.home_cap,
            counted=True,
        )
    else:
        models.cache.queue_if_loaded(batch, keys.pulled_authors(), "SADD", author)
