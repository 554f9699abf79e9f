"""The core projection's erasure of deleted users (UserDeleted), after the rest of the batch.

1. **Redis read**: the recents of the deleted users (what their followers' home timelines
   hold of them).
2. **One PostgreSQL transaction**: their rows leave every core table (projections/
   postgres_erasure.py, and the tweet store), set-based for every user of the batch; counts of
   what stays move by the rows removed.
3. **One Redis pipeline**: their keys (home, recents, user cache, id sets, engaged authors)
   go; their tweets' cache entries become deletion marks (no content); their entries leave
   their followers' home timelines, and other users' retweets of their tweets leave those
   users' recents and their followers' timelines; other users' sets and counts are
   corrected.

A UserDeleted of a user erased already (redelivered, replayed, or added by agents/erasure.py
after a post naming that user) removes nothing more: the erasure is idempotent.
"""

from __future__ import annotations

from agents.context import AgentContext
from projections.engagements import Counts
from projections.postgres_erasure import Erased, erase_users
from projections.ranking import Kind, engagement_member
from projections.redis_batch import RedisBatch
from projections.timeline_entries import Entry
from projections.timeline_writes import TimelineWrites
from schemas import events as ev

ALL_COUNTS = ("likes", "retweets", "replies", "quotes")


def erasures(events: list[ev.Event]) -> tuple[list[int], set[int]]:
    """The users a batch deletes, and the tweets of theirs its posts reply to or quote
    (a post applied after the deletion, as a replay may: the store never held those)."""
    deleted = {event.user_id for event in events if isinstance(event, ev.UserDeleted)}
    tweets: set[int] = set()
    for event in events:
        if isinstance(event, ev.TweetPosted):
            if event.reply_to is not None and event.reply_to_author_id in deleted:
                tweets.add(event.reply_to)
            if event.quote_of is not None and event.quote_of_author_id in deleted:
                tweets.add(event.quote_of)
    return sorted(deleted), tweets


async def erase(context: AgentContext, events: list[ev.Event]) -> None:
    """Erase the users the batch's UserDeleted events name from the core read models."""
    deleted, named_tweets = erasures(events)
    if not deleted:
        return
    models = context.models
    keys, gone = models.keys, set(deleted)
    pages = await models.timelines.pages(
        [keys.recent(user) for user in deleted], None, [models.timelines.recent_cap] * len(deleted)
    )
    recents = dict(zip(deleted, (page.entries for page in pages), strict=True))
    async with models.pool.connection() as conn, conn.transaction():
        own = await models.tweets.erase_authors(deleted, conn)
        erased = await erase_users(
            conn, models.settings.core_schema, deleted, set(own) | named_tweets
        )
        await models.graph.move_counts(conn, erased.user_deltas)
        await models.engagements.move_counts(conn, erased.tweet_deltas)
        retweeters = {user for _, user, _ in erased.retweets if user not in gone}
        followers = await models.graph.followers_of(conn, retweeters)
        counts = await models.engagements.counts(sorted(erased.tweet_deltas), conn)
    await _write_redis(context, deleted, recents, erased, followers, counts)


async def _write_redis(
    context: AgentContext,
    deleted: list[int],
    recents: dict[int, list[Entry]],
    erased: Erased,
    followers: dict[int, list[int]],
    counts: dict[int, Counts],
) -> None:
    models = context.models
    cache, keys, gone = models.cache, models.keys, set(deleted)
    batch, timelines = RedisBatch(models.redis), TimelineWrites()
    for user in deleted:
        for key in (
            keys.home(user),
            keys.recent(user),
            keys.user(user),
            keys.following(user),
            keys.liked(user),
            keys.retweeted(user),
            keys.engaged_authors(user),
            keys.engagements(user),
            keys.hidden(user),
            keys.muted(user),
        ):
            batch.command("DEL", key)
        cache.queue_if_loaded(batch, keys.pulled_authors(), "SREM", user)
    for tweet_id in sorted(erased.tweet_ids):
        cache.queue_deleted(batch, tweet_id)
    # What the deleted users' followers' home timelines hold of them: their recents (posts
    # and retweets), and their retweets shown (older ones too).
    shown: dict[int, list[Entry]] = {user: list(recents[user]) for user in deleted}
    for tweet_id, user, sort_key in erased.retweets:
        if user in gone:
            shown[user].append(Entry(sort_key, tweet_id, user))
    for follower, followee in erased.follows:
        if follower in gone:
            continue
        if followee in gone:
            timelines.remove([keys.home(follower)], shown[followee])
        cache.queue_if_loaded(batch, keys.following(follower), "SREM", followee)
    # The other party of their blocks (either way) and of the mutes of them.
    for first, second in erased.blocks:
        if first not in gone:
            cache.queue_if_loaded(batch, keys.hidden(first), "SREM", second)
        if second not in gone:
            cache.queue_if_loaded(batch, keys.hidden(second), "SREM", first)
    for muter, muted in erased.mutes:
        if muter not in gone:
            cache.queue_if_loaded(batch, keys.muted(muter), "SREM", muted)
    # Other users' likes and retweets of the erased tweets; and the deleted users among the
    # authors those users engaged with (the search's personal boost).
    for tweet_id, user in erased.likes:
        if user not in gone:
            cache.queue_if_loaded(batch, keys.liked(user), "SREM", tweet_id)
    engaged = {user for _, user in erased.likes} | {user for _, user, _ in erased.retweets}
    for user in sorted(engaged - gone):
        batch.command("ZREM", keys.engaged_authors(user), *deleted)
    # And those likes and retweets among the users' kept engagements (the ranked timeline's).
    for kind, pairs in ((Kind.LIKE, erased.likes), (Kind.RETWEET, erased.retweets)):
        for tweet_id, user, *_ in pairs:
            if user not in gone:
                members = [engagement_member(kind, tweet_id, author) for author in deleted]
                batch.command("ZREM", keys.engagements(user), *members)
    for tweet_id, user, sort_key in erased.retweets:
        if user in gone:
            continue
        cache.queue_if_loaded(batch, keys.retweeted(user), "SREM", tweet_id)
        timelines.remove(
            [keys.recent(user), keys.home(user)] + [keys.home(f) for f in followers[user]],
            [Entry(sort_key, tweet_id, user)],
        )
    # The counts of the other tweets they liked, retweeted, replied to or quoted.
    for tweet_id in sorted(erased.tweet_deltas):
        cache.queue_counts(batch, tweet_id, counts.get(tweet_id, Counts()), ALL_COUNTS)
    models.timelines.queue_writes(batch, timelines.finish())
    await batch.execute()
