"""The graph agent: users and follows into PostgreSQL, and the caches that depend on them."""

from __future__ import annotations

from agents.context import AgentContext
from projections.timeline_entries import Entry
from schemas import events as ev

# How many of a new followee's newest entries a follow copies into the follower's timeline.
FOLLOW_BACKFILL = 50


async def apply_graph_event(context: AgentContext, event: ev.Event) -> None:
    models = context.models
    match event:
        case ev.UserRegistered():
            await models.graph.add_user(event.user_id, event.username, event.display_name,
                                        event.bio, event.occurred_at)
            await models.cache.put_users({event.user_id: (event.username, event.display_name)})
        case ev.ProfileUpdated():
            await models.graph.update_profile(event.user_id, event.display_name, event.bio)
            await models.redis.delete(models.keys.user(event.user_id))
        case ev.UserFollowed():
            await models.graph.follow(event.follower_id, event.followee_id)
            await models.cache.add_if_loaded(models.keys.following(event.follower_id),
                                             event.followee_id)
            entries, complete = await _recent_entries(context, event.followee_id)
            await models.timelines.push_home([event.follower_id], entries, partial=not complete)
        case ev.UserUnfollowed():
            await models.graph.unfollow(event.follower_id, event.followee_id)
            await models.cache.remove_if_loaded(models.keys.following(event.follower_id),
                                                event.followee_id)
            # Readers already drop unfollowed authors; this frees the entries themselves.
            entries = (await models.timelines.page(models.keys.recent(event.followee_id), None,
                                                   models.timelines.recent_cap)).entries
            if entries:
                await models.timelines.remove_home([event.follower_id], entries)


async def _recent_entries(context: AgentContext, author_id: int) -> tuple[list[Entry], bool]:
    """The author's newest entries for a new follower, and whether they are all there are."""
    models = context.models
    recent = await models.timelines.page(models.keys.recent(author_id), None, FOLLOW_BACKFILL)
    if recent.entries:
        return recent.entries, recent.complete and len(recent.entries) < FOLLOW_BACKFILL
    # Not cached: the store's newest tweets, without the author's retweets (so not all).
    tweets = await models.tweets.by_author(author_id, None, FOLLOW_BACKFILL)
    return [Entry(tweet.tweet_id, tweet.tweet_id) for tweet in tweets], False
