"""The trending job on a real Flink, over a bounded input on the real broker: exact windows,
exact top N, events on the log twice counted once, and the same trends when the job runs twice
over the same input."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer
from redis.asyncio import Redis

from infra.flink import FlinkUnavailable, connector_jars
from projections.redis_keys import RedisKeys
from projections.redis_trends import RedisTrends
from projections.trends import decode_trend_row
from schemas import events as ev
from schemas.entities import extract_hashtags
from streams.admin import ensure_topics
from streams.topics import TopicRegistry
from streams.trending import TrendingJob, run
from tests.support.trends_reference import as_tuple, expected_rows

pytestmark = pytest.mark.slow

WINDOW, SLIDE, TOP_N = timedelta(seconds=10), timedelta(seconds=5), 3
BASE = datetime(2026, 1, 1, tzinfo=UTC)
# Known counts (seconds after BASE, text): in [0, 10) #a 3, #b 2; in [10, 20) #c 5, #a 1.
KNOWN = [
    (1, "#a"),
    (2, "#A again"),
    (3, "#a #b"),
    (4, "#b"),
    (11, "#a"),
    (12, "#c #c"),
    (13, "#C"),
    (14, "#c."),
    (15, "(#c)"),
    (16, "#c"),
    (25, "#z https://x.org/p#a"),
]


@pytest.fixture(scope="module")
def jars():
    try:
        return connector_jars()
    except FlinkUnavailable as error:
        pytest.fail(f"the Flink extra is part of the test install (make test): {error}")


@pytest.fixture(scope="module")
def topics(stack):
    registry = TopicRegistry(f"trend-{uuid.uuid4().hex[:8]}-", partitions=4)
    ensure_topics(stack.settings.bootstrap_servers, registry)
    return registry


def _posted(number: int, at: datetime, text: str) -> ev.TweetPosted:
    author = 1 + number % 7
    return ev.TweetPosted(
        event_id=10_000 + number,
        occurred_at=at,
        actor_id=author,
        tweet_id=20_000 + number,
        author_id=author,
        content=text,
        hashtags=extract_hashtags(text),
    )


def _workload() -> list[ev.Event]:
    """The known posts, then 600 more over a minute: a skewed mix of tags in several scripts,
    with deletes and tag-less tweets between them.

    As the write path stamps them, events reach the log close to time order: here out of
    order by up to 800 ms, inside the job's watermark delay (1 s), so every one counts."""
    events: list[ev.Event] = [
        _posted(n, BASE + timedelta(seconds=s), text) for n, (s, text) in enumerate(KNOWN)
    ]
    rng = random.Random(5)
    vocabulary = ["Python", "café", "東京", "straße", "flink", "kafka", "Redis", "जय", "x1"]
    times = sorted(rng.randrange(60_000) for _ in range(600))
    order = sorted(range(600), key=lambda i: times[i] + rng.randrange(800))
    for n, index in enumerate(order, start=len(KNOWN)):
        at = BASE + timedelta(seconds=30, milliseconds=times[index])
        tags = rng.choices(vocabulary, weights=[9, 7, 6, 5, 4, 3, 2, 2, 1], k=rng.randrange(3))
        events.append(_posted(n, at, " ".join(f"#{tag}" for tag in tags) or "no tags here"))
        if n % 50 == 0:
            events.append(
                ev.TweetDeleted(
                    event_id=50_000 + n,
                    occurred_at=at,
                    actor_id=1,
                    tweet_id=20_000 + n,
                    author_id=1,
                )
            )
    return events


def _with_resends(events: list[ev.Event]) -> list[ev.Event]:
    """The events as the log may hold them after unconfirmed writes (docs/write-path.md): some
    posts, the first known one among them, sent again right after the first time."""
    sent = []
    for number, event in enumerate(events):
        sent.append(event)
        if isinstance(event, ev.TweetPosted) and number % 9 == 0:
            sent.append(event)
    return sent


def _produce(bootstrap: str, topic: str, events: list[ev.Event]) -> dict[int, int]:
    """Write the events (and one undecodable record); return where each partition ends."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    sent = [
        producer.send(topic, ev.encode(event), key=str(event.author_id).encode())
        for event in events
    ]
    sent.append(producer.send(topic, b"{not json", key=b"1"))
    producer.flush()
    ends: dict[int, int] = {}
    for future in sent:
        metadata = future.get(timeout=10)
        ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
    producer.close()
    return ends


def _read_all(bootstrap: str, topic: str) -> list[dict]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
        enable_auto_commit=False,
    )
    rows = [orjson.loads(message.value) for message in consumer]
    consumer.close()
    return rows


def _posts(events: list[ev.Event]) -> list[tuple[datetime, tuple[str, ...]]]:
    return [
        (event.occurred_at, event.hashtags) for event in events if isinstance(event, ev.TweetPosted)
    ]


def test_bounded_run_writes_exact_windows_and_runs_twice_to_the_same_trends(stack, topics, jars):
    bootstrap = stack.settings.bootstrap_servers
    events = _workload()
    ends = _produce(bootstrap, topics.tweets.name, _with_resends(events))
    job = TrendingJob(
        bootstrap,
        topics.tweets.name,
        topics.trending.name,
        window=WINDOW,
        slide=SLIDE,
        top_n=TOP_N,
        watermark_delay=timedelta(seconds=1),
        readers=4,
        stop_offsets={partition: ends.get(partition, 0) for partition in range(4)},
    )

    logs = stack.data_dir / "logs" / "flink"
    run(job, jars, log_dir=logs).wait()
    first = _read_all(bootstrap, topics.trending.name)
    expected = expected_rows(_posts(events), WINDOW, SLIDE, TOP_N)
    assert len(first) == len(expected)  # one row per (window, hashtag): none twice
    assert {as_tuple(row) for row in first} == expected

    # The known part, by hand: the oracle above is checked too.
    by_window = {}
    for row in first:
        by_window.setdefault(row["window_end"], []).append(
            (row["rank"], row["hashtag"], row["count"], row["previous_count"], row["velocity"])
        )
    assert sorted(by_window["2026-01-01T00:00:10.000Z"]) == [
        (1, "a", 3, 3, 0.0),
        (2, "b", 2, 2, 0.0),
    ]
    assert sorted(by_window["2026-01-01T00:00:15.000Z"]) == [
        (1, "c", 3, 0, 3.0),
        (2, "a", 1, 3, -2 / 3),
    ]
    assert sorted(by_window["2026-01-01T00:00:20.000Z"]) == [
        (1, "c", 5, 3, 2 / 3),
        (2, "a", 1, 1, 0.0),
    ]
    assert sorted(by_window["2026-01-01T00:00:30.000Z"]) == [(1, "z", 1, 0, 1.0)]

    # What readers see: the trends store after each run's rows, upserted as the agent does.
    prefix = f"{topics.prefix}test:"
    after_first = asyncio.run(_upsert(stack.settings.redis, prefix, first))
    assert len(after_first) == len(by_window)

    run(job, jars, log_dir=logs).wait()
    second = _read_all(bootstrap, topics.trending.name)[len(first) :]
    assert sorted(map(as_tuple, second)) == sorted(map(as_tuple, first))
    assert asyncio.run(_upsert(stack.settings.redis, prefix, second)) == after_first


async def _upsert(redis_url: str, prefix: str, rows: list[dict]) -> list:
    """Upsert rows into a trends store of its own; return every window it then holds."""
    client = Redis.from_url(redis_url)
    try:
        store = RedisTrends(client, RedisKeys(prefix), keep_windows=1000)
        await store.upsert([decode_trend_row(orjson.dumps(row)) for row in rows])
        return await store.newest(1000)
    finally:
        await client.aclose()
