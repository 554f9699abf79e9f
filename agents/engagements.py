"""The engagement agent: likes and retweets, their counts, and retweet fan-out."""

from __future__ import annotations

from agents.batches import lag_seconds
from agents.context import AgentContext
from agents.tweets import FOLLOWER_BATCH, fan_out
from projections.timeline_entries import Entry
from schemas import events as ev

# Each count is written to the cache by the one agent that changes it.
LIKES, RETWEETS = ("likes",), ("retweets",)


async def apply_engagement_event(context: AgentContext, event: ev.Event) -> None:
    models = context.models
    cache, keys = models.cache, models.keys
    match event:
        case ev.TweetLiked():
            change = await models.engagements.like(event.tweet_id, event.user_id, event.occurred_at)
            await cache.set_counts(event.tweet_id, change.counts, LIKES)
            await cache.add_if_loaded(keys.liked(event.user_id), event.tweet_id)
        case ev.TweetUnliked():
            change = await models.engagements.unlike(event.tweet_id, event.user_id)
            await cache.set_counts(event.tweet_id, change.counts, LIKES)
            await cache.remove_if_loaded(keys.liked(event.user_id), event.tweet_id)
        case ev.TweetRetweeted():
            change, sort_key = await models.engagements.retweet(event.tweet_id, event.user_id,
                                                                event.event_id)
            await cache.set_counts(event.tweet_id, change.counts, RETWEETS)
            await cache.add_if_loaded(keys.retweeted(event.user_id), event.tweet_id)
            # Pushed again on redelivery too: the same member, so nothing doubles.
            await fan_out(context, event.user_id, Entry(sort_key, event.tweet_id, event.user_id),
                          lag_seconds(event))
        case ev.TweetUnretweeted():
            change, sort_key = await models.engagements.unretweet(event.tweet_id, event.user_id)
            await cache.set_counts(event.tweet_id, change.counts, RETWEETS)
            await cache.remove_if_loaded(keys.retweeted(event.user_id), event.tweet_id)
            if sort_key is not None:
                await _withdraw(context, event.user_id,
                                Entry(sort_key, event.tweet_id, event.user_id))


async def _withdraw(context: AgentContext, retweeter_id: int, entry: Entry) -> None:
    timelines = context.models.timelines
    await timelines.remove_recent(retweeter_id, [entry])
    await timelines.remove_home([retweeter_id], [entry])
    async for followers in context.models.graph.followers(retweeter_id, FOLLOWER_BATCH):
        await timelines.remove_home(followers, [entry])
