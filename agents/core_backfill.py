"""What a follow copies into the follower's home timeline: the followee's newest entries,
from their recents in Redis, or from the tweet store where no recents are cached."""

from __future__ import annotations

from agents.context import AgentContext
from projections.graph_plan import GraphPlan
from projections.redis_timelines import TimelinePage
from projections.timeline_entries import Entry
from schemas import events as ev

# How many of a new followee's newest entries a follow copies into the follower's timeline.
FOLLOW_BACKFILL = 50


async def recents_to_copy(context: AgentContext, graph_events) -> dict[int, TimelinePage]:
    """The recents of the followees of the batch's follows (their newest FOLLOW_BACKFILL
    entries), and of its unfollows and both users of its blocks (all of them), in one round
    trip."""
    models = context.models
    unfollowed = {e.followee_id for e in graph_events if isinstance(e, ev.UserUnfollowed)}
    for event in graph_events:
        if isinstance(event, ev.UserBlocked):  # a block takes each out of the other's home
            unfollowed |= {event.blocker_id, event.blocked_id}
    followed = {e.followee_id for e in graph_events if isinstance(e, ev.UserFollowed)} - unfollowed
    authors = sorted(followed) + sorted(unfollowed)
    limits = [FOLLOW_BACKFILL] * len(followed) + [models.timelines.recent_cap] * len(unfollowed)
    pages = await models.timelines.pages([models.keys.recent(a) for a in authors], None, limits)
    return dict(zip(authors, pages, strict=True))


async def timeline_copies(
    context: AgentContext,
    conn,
    graph: GraphPlan,
    recents: dict[int, TimelinePage],
    refused: set[tuple[int, int]],
):
    """For each followee: the entries a follow copies (and whether they are all there are),
    and the entries an unfollow (or a block, of either user) takes out. A follow `refused`
    (a block ended it) copies nothing."""
    backfills: dict[int, tuple[list[Entry], bool]] = {}
    unfollowed: dict[int, list[Entry]] = {}
    uncached = []
    blocked_uncached: set[int] = set()
    cap = context.models.timelines.recent_cap
    for step in graph.steps:
        if isinstance(step, ev.UserFollowed):
            if (step.follower_id, step.followee_id) in refused:
                continue
            page = recents[step.followee_id]
            if page.entries:
                entries = page.entries[:FOLLOW_BACKFILL]
                backfills[step.followee_id] = (
                    entries,
                    page.complete and len(page.entries) < FOLLOW_BACKFILL,
                )
            else:
                uncached.append(step.followee_id)
        elif isinstance(step, ev.UserUnfollowed):
            unfollowed[step.followee_id] = recents[step.followee_id].entries[:cap]
        elif isinstance(step, ev.UserBlocked):
            for user_id in (step.blocker_id, step.blocked_id):
                unfollowed[user_id] = recents[user_id].entries[:cap]
                if not recents[user_id].entries and not recents[user_id].complete:
                    # Not cached: what a follow copied from the store goes too (readers
                    # already drop the user; a block applied with the follow it ends, in
                    # one batch, copies nothing, and this leaves the same).
                    blocked_uncached.add(user_id)
    # Not cached: the store's newest tweets, without the author's retweets (so not all); as
    # many as a follow copies, or as the recents hold for a block (rare: its own query).
    tweets = context.models.tweets
    followed = sorted(set(uncached) - blocked_uncached)
    newest = await tweets.newest_by_each(followed, FOLLOW_BACKFILL, conn)
    if blocked_uncached:
        newest |= await tweets.newest_by_each(sorted(blocked_uncached), cap, conn)
    for author_id, tweet_ids in newest.items():
        entries = [Entry(tweet_id, tweet_id) for tweet_id in tweet_ids]
        if author_id in blocked_uncached:
            unfollowed[author_id] = entries
        if author_id in uncached:
            backfills[author_id] = (entries[:FOLLOW_BACKFILL], False)
    return backfills, unfollowed
