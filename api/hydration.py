"""Turning timeline entries into tweet objects, in as few round trips as the caches allow."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace

from api.problems import ProblemError, not_found
from projections.engagements import Counts
from projections.read_models import ReadModels
from projections.redis_cache import CachedTweet, CachedUser, user_summary
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

    async def people(
        self, user_ids: list[int], cached: dict[int, CachedUser | None] | None = None
    ) -> dict[int, CachedUser]:
        """Users (summary and protection) by id, filled from PostgreSQL where not cached."""
        if cached is None:
            cached = await self.models.cache.users(user_ids)
        missing = [user_id for user_id, user in cached.items() if user is None]
        if missing:
            profiles = await self.models.graph.profiles(missing)
            fresh = {
                p.user_id: (p.username, p.display_name, p.protected) for p in profiles.values()
            }
            await self.models.cache.fill_users(fresh)
            cached.update(
                {
                    user_id: CachedUser(user_summary(user_id, username, name), protected)
                    for user_id, (username, name, protected) in fresh.items()
                }
            )
        return {user_id: user for user_id, user in cached.items() if user is not None}

    async def users(
        self, user_ids: list[int], cached: dict[int, CachedUser | None] | None = None
    ) -> dict[int, dict]:
        """User summaries (the API's `user` objects) by id."""
        return {
            user_id: user.summary for user_id, user in (await self.people(user_ids, cached)).items()
        }

    async def id_set(self, key: str, load) -> set[int]:
        """A cached id set (following, liked, ...), loaded from its store on a miss."""
        return (await self.id_sets([(key, load)]))[0]

    async def id_sets(self, specs: list[tuple[str, Callable]]) -> list[set[int]]:
        """Cached id sets, one round trip when all are loaded; each loaded on a miss."""
        found = await self.models.cache.sets_members([key for key, _ in specs])
        return [
            await self.filled(key, members, load)
            for (key, load), members in zip(specs, found, strict=True)
        ]

    async def filled(self, key: str, members: set[int] | None, load) -> set[int]:
        """`members` as read from a cached id set, or on a miss (None) the set loaded from
        its store and cached."""
        if members is None:
            members = set(await load())
            await self.models.cache.load_set(key, list(members))
        return members

    async def render_tweets(self, tweet_ids: list[int], viewer: int | None) -> list[dict]:
        """Tweet objects for a list of tweet ids (search hits, a hashtag's tweets), as
        `render` gives them."""
        return await self.render([Entry(tweet_id, tweet_id) for tweet_id in tweet_ids], viewer)

    async def relations(self, viewer: int) -> tuple[set[int], set[int], set[int]]:
        """The viewer's hidden, following and muted sets, one round trip when cached."""
        hidden, following, muted = await self.id_sets(self._viewer_sets(viewer, mutes=True))
        return hidden, following, muted

    def _viewer_sets(self, viewer: int, mutes: bool) -> list[tuple[str, Callable]]:
        """The viewer's sets a visibility needs: hidden, following (and muted)."""
        models, keys = self.models, self.models.keys
        specs: list[tuple[str, Callable]] = [
            (keys.hidden(viewer), lambda: models.graph.hidden_from(viewer)),
            (keys.following(viewer), lambda: models.graph.following(viewer)),
        ]
        if mutes:
            specs.append((keys.muted(viewer), lambda: models.graph.muted_by(viewer)))
        return specs

    async def visibility(
        self, viewer: int | None, user_ids: set[int], mutes: bool = False
    ) -> Visibility:
        """Whom of `user_ids` the viewer may see, one round trip when the caches hold it."""
        found, _ = await self._read(viewer, list(user_ids), [], mutes)
        return found

    async def listed(self, user_ids: list[int], viewer: int | None) -> dict[int, dict]:
        """Summaries of `user_ids` (a people list) but those a block stands between the
        viewer and."""
        seen = await self.visibility(viewer, set(user_ids))
        return {i: user.summary for i, user in seen.users.items() if i not in seen.hidden}

    async def require_visible(
        self, viewer: int | None, user_id: int, tweets: bool = True
    ) -> CachedUser:
        """The user, if the viewer may see them (with `tweets`, their tweets too: a protected
        account's only as its follower); else a 403 saying why (`blocked`, `protected`), or a
        404 for no such user."""
        seen = await self.visibility(viewer, {user_id})
        user = seen.users.get(user_id)
        if user is None:
            raise not_found(f"user {user_id}")
        if viewer is not None and user_id in seen.hidden:
            blocks_you, _ = await self.models.graph.blocks_between(viewer, user_id)
            detail = (
                f"user {user_id} blocks you: you cannot see them or their tweets"
                if blocks_you
                else f"you block user {user_id}: unblock them to see them or their tweets"
            )
            raise ProblemError(403, "blocked", "Blocked", detail)
        if tweets and not seen.shows(user_id):
            raise ProblemError(
                403,
                "protected",
                "Protected Account",
                f"user {user_id} shows their tweets to approved followers only",
            )
        return user

    async def _read(
        self, viewer: int | None, people: list[int], tweet_ids: list[int], mutes: bool
    ) -> tuple[Visibility, list[set[int]]]:
        """The users `people`, which of them the viewer may see, and which of `tweet_ids` the
        viewer liked and retweeted: one round trip when the caches hold it all."""
        models = self.models
        sets: list[tuple[str, Callable, list[int]]] = []
        if viewer is not None and tweet_ids:
            sets += [
                (models.keys.liked(viewer), lambda: models.engagements.liked(viewer), tweet_ids),
                (
                    models.keys.retweeted(viewer),
                    lambda: models.engagements.retweeted(viewer),
                    tweet_ids,
                ),
            ]
        if viewer is not None and people:
            sets += [(key, load, people) for key, load in self._viewer_sets(viewer, mutes)]
        cached_users, flags = await models.cache.hydration(
            people, [(key, ids) for key, _, ids in sets]
        )
        users = await self.people(people, cached_users)
        marked = []
        for (key, load, ids), (loaded, hits) in zip(sets, flags, strict=True):
            if loaded:
                marked.append({i for i, hit in zip(ids, hits, strict=True) if hit})
            else:  # not loaded: load it now (no second look at the cache)
                members = await self.filled(key, None, load)
                marked.append({i for i in ids if i in members})
        tweet_flags: list[set[int]] = [set(), set()]
        if viewer is not None and tweet_ids:
            tweet_flags, marked = marked[:2], marked[2:]
        hidden: set[int] = set()
        following: set[int] = set()
        if marked:
            hidden, following, *muted = marked
            hidden = hidden.union(*muted)
        return Visibility(viewer, users, hidden, following), tweet_flags

    async def render(
        self,
        entries: list[Entry],
        viewer: int | None,
        tweets: dict[int, CachedTweet] | None = None,
        mutes: bool = False,
    ) -> list[dict]:
        """Tweet objects for `entries`, in order; entries whose tweet is gone, or whose author
        or retweeter the viewer may not see (`Visibility`; with `mutes`, the users the viewer
        mutes too), are dropped. A quote tweet embeds the tweet it quotes one level deep (or
        a placeholder once that is deleted or its author hidden from the viewer), read in one
        more batch for the whole page."""
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
        seen, (liked, retweeted) = await self._read(viewer, people, flagged, mutes)
        users = {user_id: user.summary for user_id, user in seen.users.items()}

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
            if tweet is None or tweet.author_id not in users or not seen.shows(tweet.author_id):
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
            and seen.shows_entry(entry, tweets[entry.tweet_id])
        ]


@dataclass(frozen=True)
class Visibility:
    """Whom a viewer may see (docs/safety.md): no user a block stands between them and
    (either way; where mutes apply, no user the viewer mutes either), and a protected
    account's tweets only as its follower. Anyone sees themselves; an anonymous reader sees
    no protected account."""

    viewer: int | None
    users: dict[int, CachedUser]  # the users read, with their protection
    hidden: set[int]
    following: set[int]

    def shows(self, user_id: int | None) -> bool:
        if user_id is None or user_id == self.viewer:
            return True
        if user_id in self.hidden:
            return False
        user = self.users.get(user_id)
        return user is None or not user.protected or user_id in self.following

    def shows_entry(self, entry: Entry, tweet: CachedTweet) -> bool:
        """A tweet or retweet: its author and its retweeter."""
        return self.shows(tweet.author_id) and self.shows(entry.retweeted_by)
