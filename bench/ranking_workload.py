"""A simulated workload for the ranked home timeline: readers with tastes act on what they see.

Authors post real tweet texts, mostly on a topic of their own (a hashtag of the texts). Readers
follow authors as the real graph says, favour a few of them (a weight per followee, most small,
a few large) and a few topics, and come back a few times a day. Each time, a reader scrolls the
reverse-chronological home timeline (as the product shows it today), looks at each tweet with
a probability falling with its position, and likes, retweets or replies with a probability
that grows with the reader's taste for the author and the topic and with the tweet's
popularity. So engagement has signal a ranker can learn from what the log shows (who engaged
with whom, and how much), and also signal it cannot see (topics), as in life.

Time is simulated: every event carries the moment it happened in its Snowflake id, so a
week of activity is generated in seconds. `ranking_log` returns the events in time order.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from operations.ranker_history import History
from schemas import events as ev
from schemas.entities import extract_hashtags
from streams.ids import SnowflakeIds

DAY_MS = 86_400_000
# How far a reader scrolls at most, and how attention falls with each place down.
FEED_DEPTH = 60
LOOK_DECAY = 0.96
# A reader's engagement odds: a base, a taste for the author (log of its weight), a liked
# topic, the tweet's popularity.
BASE_LOGIT = -3.2
AUTHOR_WEIGHT = 1.1
TOPIC_WEIGHT = 1.4
POPULARITY_WEIGHT = 0.25
KIND_SHARES = {"like": 0.75, "retweet": 0.12, "reply": 0.13}
TOPICS = 30


@dataclass(frozen=True)
class Tastes:
    """A reader's weight per followed author and liked topics."""

    authors: dict[int, float]
    topics: frozenset[str]


def ranking_log(
    edges: list[tuple[int, int]],
    texts: list[str],
    readers: int = 300,
    days: int = 8,
    posts_per_day: int = 4000,
    sessions_per_day: float = 3.0,
    start: datetime = datetime(2026, 11, 1, tzinfo=UTC),
    seed: int = 5,
) -> list[ev.Event]:
    """Registrations, follows, then `days` of posts and of readers' sessions, in time order."""
    rng = random.Random(seed)
    following: dict[int, set[int]] = {}
    for follower, followee in edges:
        following.setdefault(follower, set()).add(followee)
    eligible = sorted(u for u, f in following.items() if 20 <= len(f) <= 150)
    chosen = rng.sample(eligible, min(readers, len(eligible)))
    authors = sorted({a for r in chosen for a in following[r]} | set(chosen))
    by_topic = _topics(texts)
    topics = sorted(by_topic)
    author_topic = {a: rng.choice(topics) for a in authors}
    tastes = {
        r: Tastes(
            {a: rng.lognormvariate(0.0, 1.2) for a in sorted(following[r])},
            frozenset(rng.sample(topics, 3)),
        )
        for r in chosen
    }

    now = [start.timestamp()]
    ids = SnowflakeIds(5, clock=lambda: now[0])
    history = History()
    events: list[ev.Event] = []
    topic_of: dict[int, str | None] = {}

    def emit(at_ms: int, make) -> ev.Event:
        now[0] = at_ms / 1000
        event = make(event_id=ids.next_id(), occurred_at=datetime.fromtimestamp(at_ms / 1000, UTC))
        history.apply(event)
        events.append(event)
        return event

    t0 = int(start.timestamp() * 1000)
    for user in sorted(set(authors) | set(chosen)):
        emit(
            t0,
            lambda user=user, **stamp: ev.UserRegistered(
                **stamp, actor_id=user, user_id=user, username=f"u{user}"[:15], display_name="x"
            ),
        )
    for reader in chosen:
        for author in sorted(following[reader]):
            emit(
                t0,
                lambda r=reader, a=author, **stamp: ev.UserFollowed(
                    **stamp, actor_id=r, follower_id=r, followee_id=a
                ),
            )

    # The schedule: (ms, order, action, who, detail), popped in time order.
    schedule: list[tuple[int, int, str, int, int]] = []
    order = itertools.count()
    begin, end = t0 + 60_000, t0 + days * DAY_MS
    for _ in range(posts_per_day * days):
        heapq.heappush(
            schedule, (rng.randrange(begin, end), next(order), "post", rng.choice(authors), 0)
        )
    for reader in chosen:
        for _ in range(round(sessions_per_day * days)):
            heapq.heappush(schedule, (rng.randrange(begin, end), next(order), "session", reader, 0))

    while schedule:
        at, _, action, who, detail = heapq.heappop(schedule)
        if action == "post":
            topic = author_topic[who] if rng.random() < 0.7 else rng.choice(topics)
            text = rng.choice(by_topic[topic])
            posted = emit(
                at,
                lambda who=who, text=text, **stamp: ev.TweetPosted(
                    **stamp,
                    actor_id=who,
                    tweet_id=stamp["event_id"],
                    author_id=who,
                    content=text,
                    hashtags=extract_hashtags(text),
                ),
            )
            topic_of[posted.event_id] = topic
        elif action == "session":
            for step, (tweet_id, kind) in enumerate(
                _session(history, who, tastes[who], topic_of, at, rng)
            ):
                heapq.heappush(schedule, (at + 1000 * (step + 1), next(order), kind, who, tweet_id))
        else:
            tweet = history.tweets.get(detail)
            if tweet is None or tweet.deleted:
                continue
            emit(at, _engagement(action, who, detail, tweet.author_id, texts, rng))
    return events


def _session(
    history: History,
    reader: int,
    tastes: Tastes,
    topic_of: dict[int, str | None],
    at_ms: int,
    rng: random.Random,
) -> list[tuple[int, str]]:
    """What the reader engages with on one visit: (tweet, kind) in the order seen."""
    chosen = []
    for place, entry in enumerate(history.entries(reader, at_ms)[:FEED_DEPTH]):
        if rng.random() > LOOK_DECAY**place:
            continue
        tweet = history.tweets[entry.tweet_id]
        if tweet.author_id == reader:
            continue
        weight = tastes.authors.get(tweet.author_id, 0.3)
        logit = (
            BASE_LOGIT
            + AUTHOR_WEIGHT * math.log(weight)
            + TOPIC_WEIGHT * (topic_of.get(entry.tweet_id) in tastes.topics)
            + POPULARITY_WEIGHT * math.log1p(len(tweet.likers) + len(tweet.retweeters))
        )
        if rng.random() < 1 / (1 + math.exp(-logit)):
            kind = rng.choices(list(KIND_SHARES), list(KIND_SHARES.values()))[0]
            if kind == "like" and reader in tweet.likers:
                continue
            if kind == "retweet" and reader in tweet.retweeters:
                continue
            chosen.append((entry.tweet_id, kind))
    return chosen


def _engagement(kind: str, reader: int, tweet_id: int, author: int, texts, rng):
    if kind == "like":
        return lambda **stamp: ev.TweetLiked(
            **stamp, actor_id=reader, tweet_id=tweet_id, user_id=reader, author_id=author
        )
    if kind == "retweet":
        return lambda **stamp: ev.TweetRetweeted(
            **stamp, actor_id=reader, tweet_id=tweet_id, user_id=reader, author_id=author
        )
    text = rng.choice(texts)
    return lambda **stamp: ev.TweetPosted(
        **stamp,
        actor_id=reader,
        tweet_id=stamp["event_id"],
        author_id=reader,
        content=text,
        reply_to=tweet_id,
        reply_to_author_id=author,
        hashtags=extract_hashtags(text),
    )


def _topics(texts: list[str]) -> dict[str, list[str]]:
    """The TOPICS most used hashtags, each with the texts that carry it first."""
    by_tag: dict[str, list[str]] = {}
    for text in texts:
        tags = extract_hashtags(text)
        if tags:
            by_tag.setdefault(tags[0], []).append(text)
    top = sorted(by_tag, key=lambda tag: (-len(by_tag[tag]), tag))[:TOPICS]
    return {tag: by_tag[tag] for tag in top}
