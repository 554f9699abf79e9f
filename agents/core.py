"""The core projection: a batch of events into the social graph, tweet store, engagements,
timelines and caches, writing each store once.

1. **Redis read**: the recents of every author a follow, unfollow or block of the batch names
   (what a follow copies into the follower's home timeline, and an unfollow or a block takes
   out of it).
2. **One PostgreSQL transaction**: each family's stored state is read and its events are
   planned as plain data (projections/graph_plan, tweet_plan, engagement_plan); every table
   is written with set-based statements; counts move by the rows that really changed
   (RETURNING), so a redelivered batch moves nothing; then the fan-out decisions are made and
   the followers of every author to push to are read in one query.
3. **One Redis pipeline** (agents/core_redis.py): the caches in the events' order, then the
   timelines, their pushes merged per author (projections/timeline_writes).
4. Only in a batch with a UserDeleted: the deleted users' erasure (agents/core_erasure.py).

Families apply in a fixed order within a batch (graph, then tweets, then engagements), each
in log order: events of one key share a partition and so a family, so each key's events stay
in order. A tweet is in the store before it is pushed anywhere, so a timeline rebuilt from the
store while pushes go on misses nothing.
"""

from __future__ import annotations

import logging
import time

from agents.context import AgentContext
from agents.core_backfill import recents_to_copy, timeline_copies
from agents.core_erasure import erase
from agents.core_redis import Delivery, Planned, write_redis
from agents.core_second_look import look_again
from projections import engagement_plan, graph_plan, tweet_plan
from projections.engagement_plan import EngagementPlan, Retweeted, Unretweeted
from projections.fanout import should_push
from projections.media_plan import MEDIA_EVENTS, plan_media
from projections.redis_timelines import TimelinePage
from projections.timeline_entries import Entry
from projections.tweet_plan import Posted, TweetPlan
from schemas import events as ev

log = logging.getLogger("chirp.agents.core")

GRAPH = (
    ev.UserRegistered,
    ev.ProfileUpdated,
    ev.UserFollowed,
    ev.UserUnfollowed,
    ev.FollowRequested,
    ev.FollowRequestDeclined,
    ev.UserBlocked,
    ev.UserUnblocked,
    ev.UserMuted,
    ev.UserUnmuted,
)
TWEETS = (ev.TweetPosted, ev.TweetDeleted)
ENGAGEMENTS = (ev.TweetLiked, ev.TweetUnliked, ev.TweetRetweeted, ev.TweetUnretweeted)


async def apply_core(context: AgentContext, events: list[ev.Event]) -> None:
    """Apply decoded events (any order of families, each family in log order) as one batch."""
    graph_events = [event for event in events if isinstance(event, GRAPH)]
    tweet_events = [event for event in events if isinstance(event, TWEETS)]
    engagement_events = [event for event in events if isinstance(event, ENGAGEMENTS)]
    # Uploads, and the posts attaching them, in log order (an owner's share a partition).
    media_events = [event for event in events if isinstance(event, MEDIA_EVENTS + TWEETS)]
    recents = await recents_to_copy(context, graph_events)
    planned = await _write_postgres(
        context, graph_events, tweet_events, engagement_events, media_events, recents
    )
    await write_redis(context, planned)
    await look_again(context, planned, graph_events)
    # Deleted accounts leave last: whatever of theirs the batch brought goes with the rest.
    await erase(context, events)


async def _write_postgres(
    context: AgentContext,
    graph_events,
    tweet_events,
    engagement_events,
    media_events,
    recents: dict[int, TimelinePage],
) -> Planned:
    models = context.models
    async with models.pool.connection() as conn, conn.transaction():
        graph = graph_plan.plan_graph(
            graph_events, await models.graph.stored_users(conn, graph_plan.user_ids(graph_events))
        )
        await models.graph.write_users(conn, graph)
        summaries = await models.graph.summaries(conn, graph_plan.edited_users(graph))
        edges = await models.graph.write_edges(conn, graph)
        pairs = {(min(edge), max(edge)) for edge in graph.blocks}
        blocked, muted = await models.graph.safety_states(conn, pairs, set(graph.mutes))
        backfills, unfollowed = await timeline_copies(context, conn, graph, recents, edges.refused)

        tweets = tweet_plan.plan_tweets(
            tweet_events,
            await models.tweets.states(sorted(tweet_plan.tweet_ids(tweet_events)), conn),
        )
        await models.tweets.write(list(tweets.new_rows.values()), sorted(tweets.deletions), conn)
        counted = await models.graph.count_tweets(conn, tweets.counted, tweets.uncounted)
        replied = await models.engagements.write_replies(conn, tweets.replies, tweets.unreplies)
        quoted = await models.engagements.write_quotes(conn, tweets.quotes, tweets.unquotes)
        media = plan_media(media_events)
        restyled = await models.media.write(conn, media) if media else set()
        attachments = models.media.rendered(
            await models.media.attachments(sorted(media.posted | restyled), conn)
        )

        engagements = engagement_plan.plan_engagements(
            engagement_events,
            await models.engagements.retweet_rows(
                conn, engagement_plan.retweet_keys(engagement_events)
            ),
        )
        liked = await models.engagements.write_likes(conn, engagements.unlikes, engagements.likes)
        await models.engagements.write_retweets(conn, engagements.retweets)

        await models.graph.move_counts(conn, _user_deltas(edges.moved, counted))
        await models.engagements.move_counts(
            conn, _tweet_deltas(liked, engagements, replied, quoted)
        )
        deliveries, moved = await _decide(context, conn, tweets, engagements)
        withdrawn = {
            step.event.user_id
            for step in engagements.steps
            if isinstance(step, Unretweeted) and step.sort_key is not None
        }
        followers = await models.graph.followers_of(
            conn, {d.author_id for d in deliveries if d.push} | withdrawn
        )
        counts = await models.engagements.counts(sorted(_counted_tweets(tweets, engagements)), conn)
    return Planned(
        graph,
        edges,
        summaries,
        tweets,
        engagements,
        backfills,
        unfollowed,
        deliveries,
        followers,
        counts,
        moved,
        attachments,
        restyled,
        {pair: pair in blocked for pair in pairs},
        {edge: edge in muted for edge in graph.mutes},
    )


def _user_deltas(moved, counted) -> dict[int, tuple[int, int, int]]:
    """(followers, following, tweets) each user's counts move by."""
    deltas: dict[int, list[int]] = {}
    for follower, followee, delta in moved:
        deltas.setdefault(followee, [0, 0, 0])[0] += delta
        deltas.setdefault(follower, [0, 0, 0])[1] += delta
    for author, delta in counted:
        deltas.setdefault(author, [0, 0, 0])[2] += delta
    return {user_id: (a, b, c) for user_id, (a, b, c) in deltas.items()}


def _tweet_deltas(
    liked, engagements: EngagementPlan, replied, quoted
) -> dict[int, tuple[int, int, int, int]]:
    """(likes, retweets, replies, quotes) each tweet's counts move by."""
    deltas: dict[int, list[int]] = {}
    for tweet_id, delta in liked:
        deltas.setdefault(tweet_id, [0, 0, 0, 0])[0] += delta
    for tweet_id, delta in engagements.retweet_deltas.items():
        deltas.setdefault(tweet_id, [0, 0, 0, 0])[1] += delta
    for tweet_id, delta in replied:
        deltas.setdefault(tweet_id, [0, 0, 0, 0])[2] += delta
    for tweet_id, delta in quoted:
        deltas.setdefault(tweet_id, [0, 0, 0, 0])[3] += delta
    return {tweet_id: (a, b, c, d) for tweet_id, (a, b, c, d) in deltas.items()}


def _counted_tweets(tweets: TweetPlan, engagements: EngagementPlan) -> set[int]:
    """The tweets whose counts the caches are given."""
    ids = set()
    for step in tweets.steps:
        if isinstance(step, Posted):
            ids.add(step.event.tweet_id)
            ids.update(t for t in (step.event.reply_to, step.event.quote_of) if t is not None)
        else:
            ids.update(t for t in (step.reply_to, step.quote_of) if t is not None)
    ids.update(step.event.tweet_id for step in engagements.steps)
    return ids


async def _decide(
    context: AgentContext, conn, tweets: TweetPlan, engagements: EngagementPlan
) -> tuple[list[Delivery], tuple[int, float] | None]:
    """Each post and retweet to deliver, pushed or left to readers to pull (celebrities): by
    the author's follower count and the threshold in force, which fan-out lag lowers (and
    the last (threshold, lag) it moved to, if it moved)."""
    wanted = [
        Delivery(
            step.event.author_id, Entry(step.event.tweet_id, step.event.tweet_id), _lag(step.event)
        )
        for step in tweets.steps
        if isinstance(step, Posted)
    ]
    wanted += [
        Delivery(
            step.event.user_id,
            Entry(step.sort_key, step.event.tweet_id, step.event.user_id),
            _lag(step.event),
        )
        for step in engagements.steps
        if isinstance(step, Retweeted)
    ]
    counts = await context.models.graph.follower_counts(conn, {d.author_id for d in wanted})
    deliveries, moved = [], None
    celebrity = context.threshold
    assert celebrity is not None  # only a search replay's context has none
    for delivery in wanted:
        was_lowered = celebrity.is_lowered
        threshold = celebrity.observe(delivery.lag_seconds)
        if celebrity.is_lowered != was_lowered:
            log.warning(
                "fan-out lag %.2fs: celebrity threshold now %d", delivery.lag_seconds, threshold
            )
            moved = (threshold, delivery.lag_seconds)
        deliveries.append(
            Delivery(
                delivery.author_id,
                delivery.entry,
                delivery.lag_seconds,
                should_push(counts.get(delivery.author_id, 0), threshold),
            )
        )
    await context.models.graph.mark_pulled(conn, {d.author_id for d in deliveries if not d.push})
    return deliveries, moved


def _lag(event: ev.Event) -> float:
    """How far behind the log this event is being applied, by event time."""
    return max(time.time() - event.occurred_at.timestamp(), 0.0)
