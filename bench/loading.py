"""Bulk loading for the benchmark: the graph straight into PostgreSQL, tweets onto the log."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

import psycopg
import redis
from kafka import KafkaProducer

from bench.dataset import Dataset
from infra.settings import Settings
from projections.redis_keys import RedisKeys
from projections.timeline_entries import PARTIAL
from schemas import events as ev
from schemas.entities import extract_hashtags, extract_mentions
from streams.ids import SnowflakeIds
from streams.topics import TopicRegistry


def load_graph(settings: Settings, data: Dataset) -> None:
    """Users, follows and counts as the agents would have left them (a bulk restore)."""
    schema = settings.read_schema
    followers = Counter(followee for _, followee in data.edges)
    following = Counter(follower for follower, _ in data.edges)
    now = datetime.now(UTC)
    with psycopg.connect(settings.postgres) as conn, conn.cursor() as cursor:
        with cursor.copy(
            f"COPY {schema}.users (user_id, username, display_name, bio, created_at) FROM STDIN"
        ) as copy:
            for user in data.users:
                copy.write_row((user, f"u{user}", f"User {user}", "", now))
        with cursor.copy(
            "COPY write_model.accounts (user_id, username, password_hash) FROM STDIN"
        ) as copy:
            for user in data.users:
                copy.write_row((user, f"u{user}", "bulk-loaded: no password"))
        with cursor.copy(f"COPY {schema}.follows (follower_id, followee_id) FROM STDIN") as copy:
            for edge in data.edges:
                copy.write_row(edge)
        with cursor.copy(
            f"COPY {schema}.user_counts (user_id, followers_count, following_count) FROM STDIN"
        ) as copy:
            for user in data.users:
                copy.write_row((user, followers[user], following[user]))
        conn.commit()
        cursor.execute(f"ANALYZE {schema}.follows")
        cursor.execute(f"ANALYZE {schema}.user_counts")
        conn.commit()


def open_timelines(settings: Settings, users: list[int], keys: RedisKeys | None = None) -> None:
    """Give these users a (present, empty) home timeline, as if each had read recently (in
    the generation of `keys`; the first by default)."""
    client = redis.Redis.from_url(settings.redis)
    keys = keys or RedisKeys(settings.redis_prefix)
    pipe = client.pipeline(transaction=False)
    for n, user in enumerate(users, 1):
        pipe.zadd(keys.home(user), {PARTIAL: 0})  # older tweets are in the store
        if n % 5000 == 0:
            pipe.execute()
    pipe.execute()


def produce_tweets(settings: Settings, posts: list[tuple[int, str]]) -> float:
    """Put TweetPosted events for (author, text) on the log at full speed; return seconds taken."""
    ids = SnowflakeIds(worker_id=1023)
    registry = TopicRegistry(settings.topic_prefix, settings.partitions)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5, batch_size=256 * 1024
    )
    started = time.perf_counter()
    for author, text in posts:
        tweet_id = ids.next_id()
        event = ev.TweetPosted(
            event_id=ids.next_id(),
            occurred_at=datetime.now(UTC),
            actor_id=author,
            tweet_id=tweet_id,
            author_id=author,
            content=text,
            hashtags=extract_hashtags(text),
            mentions=extract_mentions(text),
        )
        topic, key = registry.route(event)
        producer.send(topic, key=key, value=ev.encode(event))
    producer.flush()
    producer.close()
    return time.perf_counter() - started


def load_history(settings: Settings, posts: list[tuple[int, str]], days: int = 30) -> None:
    """Tweets from the past month straight into the tweet store (a bulk restore of history),
    with ids and times spread evenly over those days, oldest first."""
    now = time.time()
    step = days * 86400 / max(len(posts), 1)
    with psycopg.connect(settings.postgres) as conn, conn.cursor() as cursor:
        with cursor.copy(
            f"COPY {settings.read_schema}.tweets (tweet_id, author_id, content,"
            " created_at, reply_to, deleted) FROM STDIN"
        ) as copy:
            for n, (author, text) in enumerate(posts):
                moment = now - days * 86400 + n * step
                ids = SnowflakeIds(worker_id=1022, clock=lambda m=moment: m)
                tweet_id = ids.next_id()
                copy.write_row(
                    (
                        tweet_id,
                        author,
                        text,
                        datetime.fromtimestamp(moment, UTC),
                        None,
                        False,
                    )
                )
        conn.commit()
        cursor.execute(f"ANALYZE {settings.read_schema}.tweets")
        conn.commit()
