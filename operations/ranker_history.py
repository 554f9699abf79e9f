"""The log as the ranker sees it, at any moment: who follows whom, the tweets, their counts, each
viewer's latest engagements and the candidates of a home timeline, as of the events applied so
far. Training (operations/train_ranker.py) applies the log in time order and asks for
features as of the moment a reader comes back, so no feature sees what happened after it.

The candidates are the home timeline's: the tweets of the people the viewer follows and the
viewer's own, and the retweets of the people the viewer follows, of the last CANDIDATE_HOURS,
newest first, at most CANDIDATES (seed 000's 800); a tweet once, by its newest entry.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass, field

from projections.ranking import (
    CANDIDATES,
    ENGAGEMENTS_PER_VIEWER,
    Candidate,
    Engagement,
    HalfLives,
    Kind,
    affinities,
    candidates_since,
    closest,
    features,
    social_proof,
)
from schemas import events as ev
from streams.ids import id_time


def event_ms(event: ev.Event) -> int:
    """When the event happened, in epoch milliseconds (its Snowflake id's time)."""
    return int(id_time(event.event_id).timestamp() * 1000)


@dataclass
class Tweet:
    author_id: int
    posted_ms: int
    is_reply: bool
    is_quote: bool
    has_media: bool
    deleted: bool = False
    likers: dict[int, int] = field(default_factory=dict)  # user -> ms
    retweeters: dict[int, int] = field(default_factory=dict)
    replies: int = 0


@dataclass(frozen=True)
class Entry:
    """A candidate's place on the chronological home timeline: when it was posted or
    retweeted there."""

    sort_ms: int
    tweet_id: int
    retweeted_by: int | None


class History:
    """What the log says so far; `apply` each event in time order."""

    def __init__(self, engagements_per_viewer: int = ENGAGEMENTS_PER_VIEWER) -> None:
        self.following: dict[int, set[int]] = {}
        self.tweets: dict[int, Tweet] = {}
        # Per author, (ms, tweet) of their posts and of their retweets, in time order.
        self.posts: dict[int, list[tuple[int, int]]] = {}
        self.retweets: dict[int, list[tuple[int, int]]] = {}
        self.engagements: dict[int, OrderedDict[tuple[Kind, int], Engagement]] = {}
        self.cap = engagements_per_viewer

    def apply(self, event: ev.Event) -> None:
        at = event_ms(event)
        match event:
            case ev.UserFollowed():
                self.following.setdefault(event.follower_id, set()).add(event.followee_id)
            case ev.UserUnfollowed():
                self.following.get(event.follower_id, set()).discard(event.followee_id)
            case ev.TweetPosted():
                self._posted(event, at)
            case ev.TweetDeleted():
                if (tweet := self.tweets.get(event.tweet_id)) is not None:
                    tweet.deleted = True
            case ev.TweetLiked():
                if (tweet := self.tweets.get(event.tweet_id)) is not None:
                    tweet.likers.setdefault(event.user_id, at)
                self._engaged(event.user_id, Kind.LIKE, event.tweet_id, self._author(event), at)
            case ev.TweetUnliked():
                if (tweet := self.tweets.get(event.tweet_id)) is not None:
                    tweet.likers.pop(event.user_id, None)
                self._undone(event.user_id, Kind.LIKE, event.tweet_id)
            case ev.TweetRetweeted():
                tweet = self.tweets.get(event.tweet_id)
                if tweet is not None and event.user_id not in tweet.retweeters:
                    tweet.retweeters[event.user_id] = at
                    self.retweets.setdefault(event.user_id, []).append((at, event.tweet_id))
                self._engaged(event.user_id, Kind.RETWEET, event.tweet_id, event.author_id, at)
            case ev.TweetUnretweeted():
                if (tweet := self.tweets.get(event.tweet_id)) is not None:
                    tweet.retweeters.pop(event.user_id, None)
                self._undone(event.user_id, Kind.RETWEET, event.tweet_id)

    def _author(self, event: ev.TweetLiked) -> int | None:
        """The liked tweet's author: in the event since v2, else from the tweet if known."""
        if event.author_id is not None:
            return event.author_id
        tweet = self.tweets.get(event.tweet_id)
        return tweet.author_id if tweet is not None else None

    def _posted(self, event: ev.TweetPosted, at: int) -> None:
        self.tweets[event.tweet_id] = Tweet(
            author_id=event.author_id,
            posted_ms=at,
            is_reply=event.reply_to is not None,
            is_quote=event.quote_of is not None,
            has_media=bool(event.media_ids),
        )
        self.posts.setdefault(event.author_id, []).append((at, event.tweet_id))
        if (reply_to := event.reply_to) is None:
            return
        parent = self.tweets.get(reply_to)
        if parent is not None:
            parent.replies += 1
        author = event.reply_to_author_id or (parent.author_id if parent is not None else None)
        self._engaged(event.author_id, Kind.REPLY, reply_to, author, at)

    def _engaged(
        self, viewer: int, kind: Kind, tweet_id: int, author_id: int | None, at: int
    ) -> None:
        """As the core agent keeps them (agents/core_redis.py): others' tweets of a known
        author only."""
        if author_id is None or author_id == viewer:
            return
        kept = self.engagements.setdefault(viewer, OrderedDict())
        if (kind, tweet_id) not in kept:
            kept[(kind, tweet_id)] = Engagement(kind, tweet_id, author_id, at)
            while len(kept) > self.cap:
                kept.popitem(last=False)

    def _undone(self, viewer: int, kind: Kind, tweet_id: int) -> None:
        self.engagements.get(viewer, OrderedDict()).pop((kind, tweet_id), None)

    def viewer_engagements(self, viewer: int) -> list[Engagement]:
        return list(self.engagements.get(viewer, {}).values())

    def entries(self, viewer: int, now_ms: int) -> list[Entry]:
        """The viewer's home timeline entries of the last CANDIDATE_HOURS before `now_ms`,
        newest first, a tweet once, at most CANDIDATES."""
        since = candidates_since(now_ms)
        following = self.following.get(viewer, set())
        found: list[Entry] = []
        for author in (*following, viewer):
            for at, tweet_id in _between(self.posts.get(author, []), since, now_ms):
                if not self.tweets[tweet_id].deleted:
                    found.append(Entry(at, tweet_id, None))
        for retweeter in following:
            for at, tweet_id in _between(self.retweets.get(retweeter, []), since, now_ms):
                tweet = self.tweets[tweet_id]
                if not tweet.deleted and tweet.retweeters.get(retweeter) == at:
                    found.append(Entry(at, tweet_id, retweeter))
        found.sort(key=lambda entry: entry.sort_ms, reverse=True)
        seen: set[int] = set()
        unique = []
        for entry in found:
            if entry.tweet_id not in seen:
                seen.add(entry.tweet_id)
                unique.append(entry)
                if len(unique) == CANDIDATES:
                    break
        return unique

    def candidate(self, entry: Entry, proof: dict[int, list[tuple[int, Kind]]]) -> Candidate:
        tweet = self.tweets[entry.tweet_id]
        return Candidate(
            tweet_id=entry.tweet_id,
            author_id=tweet.author_id,
            posted_ms=tweet.posted_ms,
            likes=len(tweet.likers),
            retweets=len(tweet.retweeters),
            replies=tweet.replies,
            is_reply=tweet.is_reply,
            is_quote=tweet.is_quote,
            has_media=tweet.has_media,
            retweeted_by=entry.retweeted_by,
            proof=tuple(friend for friend, _ in proof.get(entry.tweet_id, ())),
        )

    def features(
        self, viewer: int, now_ms: int, half_lives: HalfLives
    ) -> tuple[list[Entry], list[list[float]]]:
        """The viewer's candidates at `now_ms` and their features, as serving computes them
        (api/ranked.py)."""
        entries = self.entries(viewer, now_ms)
        if not entries:
            return [], []
        affinity = affinities(self.viewer_engagements(viewer), now_ms, half_lives)
        friends = closest(affinity, self.following.get(viewer, set()))
        proof = social_proof(
            friends, {friend: self.viewer_engagements(friend) for friend in friends}, now_ms
        )
        rows = [
            features(self.candidate(entry, proof), viewer, affinity, now_ms) for entry in entries
        ]
        return entries, rows


def _between(timed: list[tuple[int, int]], since: int, until: int) -> list[tuple[int, int]]:
    """The (ms, id) pairs with since <= ms < until, of a list in time order."""
    low = bisect.bisect_left(timed, (since, -1))
    high = bisect.bisect_left(timed, (until, -1))
    return timed[low:high]
