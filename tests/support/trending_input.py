"""A bounded input for the trending job's tests: known posts, then a skewed, out-of-order mix,
written to Kafka, and the job's rows read back."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson
from kafka import KafkaConsumer, KafkaProducer

from schemas import events as ev
from schemas.entities import extract_hashtags
from streams.topics import TopicRegistry
from streams.trending import TrendingJob

# The tests' windows: seconds long, so that a minute of input closes a dozen of them.
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


REGIONAL = [
    (131, "#chai", "IN"),
    (132, "#chai #cricket", "IN"),
    (133, "#coffee", "US"),
    (134, "#chai", "US"),
    (135, "#chai time", "IN"),
    (136, "#coffee", "US"),
]


def posted(
    number: int, at: datetime, text: str, protected: bool = False, region: str | None = None
) -> ev.TweetPosted:
    author = 1 + number % 7
    return ev.TweetPosted(
        event_id=10_000 + number,
        occurred_at=at,
        actor_id=author,
        tweet_id=20_000 + number,
        author_id=author,
        content=text,
        hashtags=extract_hashtags(text),
        protected=protected,
        region=region,
    )


def workload() -> list[ev.Event]:
    """The known posts, then 600 more over a minute: a skewed mix of tags in several scripts,
    with deletes, tag-less tweets and tweets of protected accounts (never counted) between
    them, a third of them from India and a third from the US; then a steady tag and one that
    has just begun; then posts of two regions.

    As the write path stamps them, events reach the log close to time order: here out of
    order by up to 800 ms, inside the job's watermark delay (1 s), so every one counts."""
    events: list[ev.Event] = [
        posted(n, BASE + timedelta(seconds=s), text) for n, (s, text) in enumerate(KNOWN)
    ]
    rng = random.Random(5)
    vocabulary = ["Python", "café", "東京", "straße", "flink", "kafka", "Redis", "जय", "x1"]
    times = sorted(rng.randrange(60_000) for _ in range(600))
    order = sorted(range(600), key=lambda i: times[i] + rng.randrange(800))
    for n, index in enumerate(order, start=len(KNOWN)):
        at = BASE + timedelta(seconds=30, milliseconds=times[index])
        tags = rng.choices(vocabulary, weights=[9, 7, 6, 5, 4, 3, 2, 2, 1], k=rng.randrange(3))
        text = " ".join(f"#{tag}" for tag in tags) or "no tags here"
        region = ("IN", "US", None)[n % 3]
        events.append(posted(n, at, text, protected=n % 23 == 0, region=region))
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
    # Last, at 100-120 s: #flat twice a second throughout, #rise three times at the end.
    steady = [(100 + half / 2, "#flat steady") for half in range(40)]
    rising = [(116, "#rise"), (117, "#rise up"), (118, "#rise!")]
    for n, (at, text) in enumerate(sorted(steady + rising), start=700):
        events.append(posted(n, BASE + timedelta(seconds=at), text))
    # At 130-140 s, posts of two regions: IN #chai 3, #cricket 1; US #coffee 2, #chai 1.
    for n, (at, text, region) in enumerate(REGIONAL, start=800):
        events.append(posted(n, BASE + timedelta(seconds=at), text, region=region))
    return events


def with_resends(events: list[ev.Event]) -> list[ev.Event]:
    """The events as the log may hold them after unconfirmed writes (docs/write-path.md): some
    posts, the first known one among them, sent again right after the first time."""
    sent = []
    for number, event in enumerate(events):
        sent.append(event)
        if isinstance(event, ev.TweetPosted) and number % 9 == 0:
            sent.append(event)
    return sent


def partition_of(event: ev.Event, partitions: int) -> int:
    """Where `produce(..., partitions=n)` writes an event: by author, as the API keys them."""
    return event.author_id % partitions


def produce(
    bootstrap: str,
    topic: str,
    events: list[ev.Event],
    *,
    partitions: int | None = None,
    undecodable: bool = True,
) -> dict[int, int]:
    """Write the events (and one undecodable record, to partition 0 when `partitions` is
    given); return where each partition ends. With `partitions`, each event goes to
    `partition_of` it, so a test knows ahead where the input ends."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")

    def partition(event: ev.Event) -> int | None:
        return None if partitions is None else partition_of(event, partitions)

    sent = [
        producer.send(
            topic, ev.encode(event), key=str(event.author_id).encode(), partition=partition(event)
        )
        for event in events
    ]
    if undecodable:
        sent.append(
            producer.send(
                topic, b"{not json", key=b"1", partition=None if partitions is None else 0
            )
        )
    producer.flush()
    ends: dict[int, int] = {}
    for future in sent:
        metadata = future.get(timeout=10)
        ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
    producer.close()
    return ends


def read_all(bootstrap: str, topic: str) -> list[dict]:
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


def posts(events: list[ev.Event]) -> list[tuple[datetime, tuple[str, ...], str | None]]:
    """What the trends count: the posts' times, tags and regions, but those of protected
    accounts."""
    return [
        (event.occurred_at, event.hashtags, event.region)
        for event in events
        if isinstance(event, ev.TweetPosted) and not event.protected
    ]


def bounded_job(bootstrap: str, topics: TopicRegistry, ends: dict[int, int]) -> TrendingJob:
    """The production job with the tests' windows, reading each partition of `topics.tweets`
    up to `ends` with a reader of its own. The input is out of order by up to 800 ms: a 1 s
    watermark delay counts every event."""
    return TrendingJob(
        bootstrap,
        topics.tweets.name,
        topics.trending.name,
        window=WINDOW,
        slide=SLIDE,
        top_n=TOP_N,
        watermark_delay=timedelta(seconds=1),
        readers=topics.tweets.partitions,
        stop_offsets={
            partition: ends.get(partition, 0) for partition in range(topics.tweets.partitions)
        },
    )
