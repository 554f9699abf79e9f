"""Turning timeline entries into tweet objects, in as few round trips as the caches allow."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from projections.engagements import Counts
from projections.read_models import ReadModels
from projections.redis_cache import CachedTweet, user_summary
from projections.timeline_entries import Entry
from schemas.entities import extract_hashtags


class Hydrator:
    """Reads through the Redis caches; fills what they miss from PostgreSQL."""

    def __init__(self, models: ReadModels) -> None:
        self.models = models

    async def tweets(self, tweet_ids: list[int]) -> dict[int, CachedTweet]:
        """Live tweets among `tweet_ids` (deleted and unknown ones are left out)."""
        cached = await self.models.cache.tweets(tweet_ids)
        found = {
            tweet_id: tweet
            for tweet_id, tweet in cached.items()
            if tweet is not None and not tweet.deleted
        }
        missing = [tweet_id for tweet_id, tweet in cached.items() if tweet is None]
        if missing:
            stored = await self.models.tweets.get_many(missing)
            found.update(
                {
                    t.tweet_id: CachedTweet(
                        t.tweet_id,
                        t.author_id,
                        t.content,
                        int(t.created_at.timestamp() * 1000),
                        t.reply_to,
                        counts=None,
                        quote_of=t.quote_of,
                        mentioned_ids=t.mentioned_ids,
                    )
                    for t in stored.values()
                }
            )
        # Tweets the cache missed, and cached tweets whose counts or attachments it missed:
        # one query for the counts, one for the attachments, one pass to fill what is absent.
        uncounted = [t.tweet_id for t in found.values() if t.counts is None]
        unattached = [t.tweet_id for t in found.values() if t.media is None]
        if uncounted or unattached:
            counts, media = await asyncio.gather(
                self.models.engagements.counts(uncounted),
                self.models.media.attachments(unattached),
            )
            rendered = self.models.media.rendered(media)
            filled = [
                replace(
                    tweet,
                    counts=tweet.counts or counts.get(tweet.tweet_id, Counts()),
                    media=rendered.get(tweet.tweet_id, tweet.media),
                )
                for tweet in found.values()
                if tweet.counts is None or tweet.media is None
            ]
            await self.models.cache.fill_tweets(filled)
            found.update({tweet.tweet_id: tweet for tweet in filled})
        return found

    async def users(
        self, user_ids: list[int], cached: dict[int, dict | None] | None = None
    ) -> dict[int, dict]:
        if cached is None:
            cached = await self.models.cache.users(user_ids)
        missing = [user_id for user_id, user in cached.items() if user is None]
        if missing:
            profiles = await self.models.graph.profiles(missing)
            fresh = {p.user_id: (p.username, p.display_name) for p in profiles.values()}
            await self.models.cache.fill_users(fresh)
            cached.update(
                {user_id: user_summary(user_id, *pair) for user_id, pair in fresh.items()}
            )
        return {user_id: summary for user_id, summary in cached.items() if summary is not None}

    async def id_set(self, key: str, load) -> set[int]:
        """A cached id set (following, liked, ...), loaded from its store on a miss."""
        members = await self.models.cache.set_members(key)
        if members is None:
            members = set(await load())
            await self.models.cache.load_set(key, list(members))
        return members

    async def render(
        self, entries: list[Entry], viewer: int | None, tweets: dict[int, CachedTweet] | None = None
    ) -> list[dict]:
        """Tweet objects for `entries`, in order; entries whose tweet is gone are dropped. A
        quote tweet embeds the tweet it quotes one level deep (or a placeholder once that is
        deleted), read in one more batch for the whole page."""
        models = self.models
        tweets = tweets if tweets is not None else await self.tweets([e.tweet_id for e in entries])
        entries = [entry for entry in entries if entry.tweet_id in tweets]
        ids = [entry.tweet_id for entry in entries]
        quoted_ids = sorted({q for i in ids if (q := tweets[i].quote_of) is not None})
        shown = tweets | await self.tweets([i for i in quoted_ids if i not in tweets])
        # The quoted tweets too, also those `tweets` holds without their being on the page
        # (a timeline reads ahead): each is shown with its author and the viewer's flags.
        flagged = list(dict.fromkeys(ids + [i for i in quoted_ids if i in shown]))
        people = list(
            {shown[i].author_id for i in flagged}
            | {m for i in flagged for m in shown[i].mentioned_ids}
            | {e.retweeted_by for e in entries if e.retweeted_by is not None}
        )
        flag_sets = []
        if viewer is not None and ids:
            flag_sets = [
                (models.keys.liked(viewer), lambda: models.engagements.liked(viewer)),
                (models.keys.retweeted(viewer), lambda: models.engagements.retweeted(viewer)),
            ]
        cached_users, flags = await models.cache.hydration(
            people, [key for key, _ in flag_sets], flagged
        )
        users = await self.users(people, cached_users)
        marked = []
        for (key, load), (loaded, hits) in zip(flag_sets, flags, strict=True):
            if loaded:
                marked.append({t for t, hit in zip(flagged, hits, strict=True) if hit})
            else:
                members = await self.id_set(key, load)
                marked.append({t for t in flagged if t in members})
        liked, retweeted = marked if marked else (set(), set())

        def body(tweet: CachedTweet) -> dict:
            counts = tweet.counts
            assert counts is not None  # Hydrator.tweets counts every tweet it returns
            return {
                **tweet.public(),
                "user": users[tweet.author_id],
                "like_count": counts.likes,
                "retweet_count": counts.retweets,
                "reply_count": counts.replies,
                "quote_count": counts.quotes,
                "entities": {
                    "hashtags": list(extract_hashtags(tweet.content)),
                    "mentions": [
                        {"username": users[m]["username"], "user_id": str(m)}
                        for m in tweet.mentioned_ids
                        if m in users
                    ],
                },
                "liked_by_me": tweet.tweet_id in liked,
                "retweeted_by_me": tweet.tweet_id in retweeted,
                "media": tweet.media,
            }

        def quoted(tweet_id: int | None) -> dict | None:
            if tweet_id is None:
                return None
            tweet = shown.get(tweet_id)
            if tweet is None or tweet.author_id not in users:
                return {"tweet_id": str(tweet_id), "unavailable": True}
            return body(tweet)

        return [
            {
                **body(tweets[entry.tweet_id]),
                "retweeted_by": users.get(entry.retweeted_by) if entry.retweeted_by else None,
                "quoted_tweet": quoted(tweets[entry.tweet_id].quote_of),
            }
            for entry in entries
            if tweets[entry.tweet_id].author_id in users
        ]
