"""The tweet agent: tweet store, tweet cache, author recents, then hybrid fan-out.

One agent applies these in this order on purpose: a tweet is in the store before it is
pushed anywhere, so a timeline rebuilt from the store while pushes go on misses nothing
(the rebuild marks the timeline present first, then reads the store).
"""

from __future__ import annotations

import logging

from agents.batches import lag_seconds
from agents.context import AgentContext
from infra.metrics import FANOUT_DELIVERIES, FANOUT_LAG_SECONDS
from projections.engagements import Counts
from projections.fanout import should_push
from projections.redis_cache import CachedTweet
from projections.timeline_entries import Entry
from projections.tweet_store import StoredTweet
from schemas import events as ev

log = logging.getLogger("chirp.agents.fanout")

REPLIES = ("replies",)
# Followers read from PostgreSQL and pushed to Redis per batch.
FOLLOWER_BATCH = 2000


async def apply_tweet_event(context: AgentContext, event: ev.Event) -> None:
    match event:
        case ev.TweetPosted():
            if await _store(context, event):
                await fan_out(context, event.author_id, Entry(event.tweet_id, event.tweet_id),
                              lag_seconds(event))
        case ev.TweetDeleted():
            await _delete(context, event)


async def _store(context: AgentContext, event: ev.TweetPosted) -> bool:
    """Store and cache a posted tweet; False if it was deleted meanwhile (a redelivery)."""
    models = context.models
    if not await models.tweets.save(StoredTweet(event.tweet_id, event.author_id, event.content,
                                                event.occurred_at, event.reply_to)):
        return False
    await models.graph.count_tweet(event.author_id, event.tweet_id, +1)
    if event.reply_to is not None:
        change = await models.engagements.add_reply(event.reply_to, event.tweet_id)
        await models.cache.set_counts(event.reply_to, change.counts, REPLIES)
    # The counts as PostgreSQL has them now, each cached only if absent: the engagement agent
    # overwrites a count after every change it makes, so whichever comes last is right, and
    # readers of a new tweet need no PostgreSQL (it may be down).
    counts = (await models.engagements.counts([event.tweet_id])).get(event.tweet_id, Counts())
    await models.cache.fill_tweets([CachedTweet(
        event.tweet_id, event.author_id, event.content,
        int(event.occurred_at.timestamp() * 1000), event.reply_to, counts=counts)])
    return True


async def fan_out(context: AgentContext, author_id: int, entry: Entry, lag: float) -> None:
    """Deliver an entry: to the author's recents and own timeline, then push or leave to pull."""
    models = context.models
    delivered = await models.timelines.push_author(author_id, [entry])
    threshold = await _threshold(context, lag)
    if should_push(await models.graph.follower_count(author_id), threshold):
        async for followers in models.graph.followers(author_id, FOLLOWER_BATCH):
            delivered += await models.timelines.push_home(followers, [entry])
    else:
        await models.graph.mark_pulled(author_id)
        await models.cache.add_if_loaded(models.keys.pulled_authors(), author_id)
    await models.cache.count("fanout_deliveries", delivered)
    FANOUT_DELIVERIES.inc(delivered)
    FANOUT_LAG_SECONDS.observe(lag)


async def _threshold(context: AgentContext, lag: float) -> int:
    """The celebrity threshold after this lag measurement; changes are logged and published."""
    was_lowered = context.threshold.is_lowered
    threshold = context.threshold.observe(lag)
    if context.threshold.is_lowered != was_lowered:
        log.warning("fan-out lag %.2fs: celebrity threshold now %d", lag, threshold)
        await context.models.redis.hset(context.models.keys.fanout_state(),
                                        mapping={"threshold": threshold, "lag_seconds": round(lag, 3)})
    return threshold


async def _delete(context: AgentContext, event: ev.TweetDeleted) -> None:
    models = context.models
    reply_to = await models.tweets.delete(event.tweet_id, event.author_id)
    await models.graph.count_tweet(event.author_id, event.tweet_id, -1)
    await models.cache.mark_deleted(event.tweet_id)
    if reply_to is not None:
        change = await models.engagements.remove_reply(reply_to, event.tweet_id)
        await models.cache.set_counts(reply_to, change.counts, REPLIES)
    # Home timelines drop deleted tweets when read; the author's recents drop it now.
    await models.timelines.remove_recent(event.author_id, [Entry(event.tweet_id, event.tweet_id)])
