"""A mixed event log for benchmarks and tests: a graph, then activity in set proportions.

Every event is a valid next step of what came before it (a like of a posted tweet, an
unlike of a standing like, a deletion of a live tweet), as the API would have written it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from kafka import KafkaProducer

from infra.settings import Settings
from schemas import events as ev
from schemas.entities import extract_hashtags, extract_mentions
from streams.ids import SnowflakeIds
from streams.topics import topic_registry

# Shares of the activity after the graph is built, by kind of event.
ACTIVITY = {
    "post": 0.30,
    "reply": 0.10,
    "like": 0.34,
    "unlike": 0.04,
    "retweet": 0.10,
    "unretweet": 0.02,
    "delete": 0.03,
    "follow": 0.05,
    "unfollow": 0.02,
}


def mixed_log(
    edges: list[tuple[int, int]], activity: int, corpus: list[str], seed: int = 11
) -> list[ev.Event]:
    """Registrations, the graph's follows, then `activity` events in ACTIVITY's proportions,
    each a valid next step of what came before (a like of a posted tweet, an unlike of a like)."""
    rng, ids = random.Random(seed), SnowflakeIds(3)
    users = sorted({user for edge in edges for user in edge})
    events: list[ev.Event] = []

    def stamp() -> dict:
        return {"event_id": ids.next_id(), "occurred_at": datetime.now(UTC)}

    for user in users:
        events.append(
            ev.UserRegistered(
                **stamp(),
                actor_id=user,
                user_id=user,
                username=f"u{user}"[:15],
                display_name=f"User {user}",
            )
        )
    follows = set(edges)
    events += [
        ev.UserFollowed(**stamp(), actor_id=a, follower_id=a, followee_id=b) for a, b in edges
    ]
    tweets: list[tuple[int, int]] = []  # (tweet, author), live
    likes, retweets = set(), set()
    kinds, weights = list(ACTIVITY), list(ACTIVITY.values())
    while len(events) < len(users) + len(edges) + activity:
        kind = rng.choices(kinds, weights)[0]
        user = rng.choice(users)
        if kind in ("post", "reply") or not tweets:
            text, tweet_id = rng.choice(corpus), ids.next_id()
            parent = rng.choice(tweets)[0] if kind == "reply" and tweets else None
            events.append(
                ev.TweetPosted(
                    **stamp(),
                    actor_id=user,
                    tweet_id=tweet_id,
                    author_id=user,
                    content=text,
                    reply_to=parent,
                    hashtags=extract_hashtags(text),
                    mentions=extract_mentions(text),
                )
            )
            tweets.append((tweet_id, user))
        elif kind == "like" or (kind == "unlike" and not likes):
            tweet_id = rng.choice(tweets)[0]
            likes.add((tweet_id, user))
            events.append(ev.TweetLiked(**stamp(), actor_id=user, tweet_id=tweet_id, user_id=user))
        elif kind == "unlike":
            tweet_id, liker = likes.pop()
            events.append(
                ev.TweetUnliked(**stamp(), actor_id=liker, tweet_id=tweet_id, user_id=liker)
            )
        elif kind == "retweet" or (kind == "unretweet" and not retweets):
            tweet_id, author = rng.choice(tweets)
            retweets.add((tweet_id, user, author))
            events.append(
                ev.TweetRetweeted(
                    **stamp(), actor_id=user, tweet_id=tweet_id, user_id=user, author_id=author
                )
            )
        elif kind == "unretweet":
            tweet_id, retweeter, author = retweets.pop()
            events.append(
                ev.TweetUnretweeted(
                    **stamp(),
                    actor_id=retweeter,
                    tweet_id=tweet_id,
                    user_id=retweeter,
                    author_id=author,
                )
            )
        elif kind == "delete":
            tweet_id, author = tweets.pop(rng.randrange(len(tweets)))
            events.append(
                ev.TweetDeleted(**stamp(), actor_id=author, tweet_id=tweet_id, author_id=author)
            )
        elif kind == "follow":
            followee = rng.choice(users)
            if followee != user:
                follows.add((user, followee))
                events.append(
                    ev.UserFollowed(
                        **stamp(), actor_id=user, follower_id=user, followee_id=followee
                    )
                )
        elif follows:
            follower, followee = follows.pop()
            events.append(
                ev.UserUnfollowed(
                    **stamp(), actor_id=follower, follower_id=follower, followee_id=followee
                )
            )
    return events


def produce(settings: Settings, events: list[ev.Event]) -> None:
    """Put `events` on the log at full speed, each on its topic and key."""
    registry = topic_registry(settings)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=20,
        batch_size=512 * 1024,
    )
    for event in events:
        topic, key = registry.route(event)
        producer.send(topic, ev.encode(event), key=key)
    producer.flush()
    producer.close()
