"""The replay benchmark: `make bench-replay` (or `python -m bench.replay`).

A log of real data on a local stack this bench starts: users and follows from the real
Twitter graph (../shared/data, the first `--edges` edges), `--tweets` real tweet texts posted
by those users, `--likes` likes, and `--trend-rows` rows on `trending-topics` shaped as the
trending job writes them (the top 10 hashtags of consecutive slices of the real texts, one
slice per 5-minute window). The live agents apply it all first. Then, in `--rounds`
interleaved rounds, each read model's replay beside its baseline from the same run:
- `chirp replay core|search` from Kafka and from the archive, and `chirp replay trends`
  from Kafka: records/s, from the start of the replay to the switch (a fresh generation
  built, the handover, the pointer switched);
- raw consumption: kafka-python reading the same topics' records without decoding them.
Writes bench/results/replay-<time>.json and docs/benchmarks.md's replay section.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from kafka import KafkaProducer

from bench.dataset import real_edges, real_texts
from bench.measure import raw_consume_seconds
from bench.report import save
from bench.timeline import machine
from infra.settings import Settings
from operations.replay import replay
from operations.stack import LocalStack
from projections.redis_keys import RedisKeys
from projections.targets import current_now
from schemas import events as ev
from schemas.entities import extract_hashtags, extract_mentions
from streams.admin import log_end_offsets
from streams.ids import SnowflakeIds
from streams.topics import topic_registry

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=40_000, help="follows from the real graph")
    parser.add_argument("--tweets", type=int, default=40_000)
    parser.add_argument("--likes", type=int, default=20_000)
    parser.add_argument("--trend-rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="chirp-bench-replay-"))
    stack = LocalStack(Settings(data_dir=data_dir), ephemeral=True)
    try:
        settings = stack.start()
        stack.start_agents()
        events = produce_log(settings, args)
        started = time.perf_counter()
        caught_up(stack, topic_registry(settings).event_topics(), settings.agent_group)
        live_seconds = time.perf_counter() - started
        caught_up(stack, [topic_registry(settings).trending], f"{settings.agent_group}-trends")
        report = measure(stack, events, args.rounds) | {
            "events": events["core"],
            "edges": args.edges,
            "tweets": args.tweets,
            "likes": args.likes,
            "trend_rows": events["trends"],
            "live_agents_per_s": round(events["core"] / live_seconds),
            "machine": machine(),
        }
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    save(ROOT, "replay", report, markdown(report))


def produce_log(settings: Settings, args) -> dict[str, int]:
    """The workload's events onto the log, as the API would have written them, and the
    trend rows as the trending job would have: how many records each read model replays."""
    edges = real_edges(args.edges)
    users = sorted({user for edge in edges for user in edge})
    texts = real_texts()
    rng, ids = random.Random(11), SnowflakeIds(1)
    start = datetime.now(UTC) - timedelta(days=1)
    registry = topic_registry(settings)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=20,
        batch_size=512 * 1024,
    )
    count = 0

    def send(event: ev.Event) -> None:
        nonlocal count
        topic, key = registry.route(event)
        producer.send(topic, ev.encode(event), key=key)
        count += 1

    at = lambda: start + timedelta(milliseconds=count)  # noqa: E731 - event time in log order
    for user in users:
        send(
            ev.UserRegistered(
                event_id=ids.next_id(),
                occurred_at=at(),
                actor_id=user,
                user_id=user,
                username=f"u{user}"[:15],
                display_name=f"User {user}",
            )
        )
    for follower, followee in edges:
        send(
            ev.UserFollowed(
                event_id=ids.next_id(),
                occurred_at=at(),
                actor_id=follower,
                follower_id=follower,
                followee_id=followee,
            )
        )
    tweets = []
    for n in range(args.tweets):
        author, text, tweet_id = rng.choice(users), texts[n % len(texts)], ids.next_id()
        tweets.append(tweet_id)
        send(
            ev.TweetPosted(
                event_id=ids.next_id(),
                occurred_at=at(),
                actor_id=author,
                tweet_id=tweet_id,
                author_id=author,
                content=text,
                hashtags=extract_hashtags(text),
                mentions=extract_mentions(text),
            )
        )
    for _ in range(args.likes):
        user, tweet_id = rng.choice(users), rng.choice(tweets)
        send(
            ev.TweetLiked(
                event_id=ids.next_id(),
                occurred_at=at(),
                actor_id=user,
                tweet_id=tweet_id,
                user_id=user,
            )
        )
    rows = 0
    for row in trend_rows(texts, args.trend_rows, start):
        producer.send(registry.trending.name, orjson.dumps(row), key=row["hashtag"].encode())
        rows += 1
    producer.flush()
    producer.close()
    return {"core": count, "search": args.tweets + args.likes, "trends": rows}


def trend_rows(texts: list[str], wanted: int, start: datetime):
    """Rows shaped as the trending job's: per 5-minute window, the top 10 hashtags of the next
    slice of the real texts, with the previous window's count and the velocity."""
    previous: Counter = Counter()
    texts_with_tags = [tags for text in texts if (tags := extract_hashtags(text))]
    per_window, made, window = 200, 0, 0
    while made < wanted:
        chunk = texts_with_tags[(window * per_window) % len(texts_with_tags) :][:per_window]
        counts = Counter(tag for tags in chunk for tag in tags)
        end = start + timedelta(minutes=5 * (window + 1))
        for rank, (tag, count) in enumerate(
            sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:10], 1
        ):
            before = previous.get(tag, 0)
            yield {
                "window_start": (end - timedelta(hours=1)).isoformat(),
                "window_end": end.isoformat(),
                "rank": rank,
                "hashtag": tag,
                "count": count,
                "previous_count": before,
                "velocity": (count - before) / max(before, 1),
            }
            made += 1
            if made == wanted:
                return
        previous, window = counts, window + 1


def caught_up(stack: LocalStack, topics: list, group: str, timeout: float = 1800) -> None:
    """Wait until the live agents of `group` have applied the whole of `topics`."""
    import psycopg
    import redis

    settings = stack.settings
    ends = log_end_offsets(settings.bootstrap_servers, topics)
    with psycopg.connect(settings.postgres) as conn:
        keys = RedisKeys(current_now(conn, settings).core_prefix)
    client = redis.Redis.from_url(settings.redis)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        applied = client.mget(
            [keys.position(group, topic, partition) for (topic, partition) in ends]
        )
        if all(
            int(done or -1) >= end - 1
            for done, end in zip(applied, ends.values(), strict=True)
            if end
        ):
            return
        time.sleep(0.5)
    raise TimeoutError(f"the live agents ({group}) did not apply the log in time")


# (read model, source): each replay measured, in this order, every round.
REPLAYS = [
    ("core", "kafka"),
    ("core", "archive"),
    ("search", "kafka"),
    ("search", "archive"),
    ("trends", "kafka"),
]


def measure(stack: LocalStack, records: dict[str, int], rounds: int) -> dict:
    settings = stack.settings
    registry = topic_registry(settings)
    topics = {
        "core": registry.event_topics(),
        "search": [registry.tweets, registry.engagements],
        "trends": [registry.trending],
    }
    samples = []
    for _ in range(rounds):
        sample = {}
        for read_model in topics:
            raw = raw_consume_seconds(
                settings.bootstrap_servers, topics[read_model], records[read_model]
            )
            sample[f"{read_model}_raw_per_s"] = round(records[read_model] / raw)
        for read_model, source in REPLAYS:
            result = asyncio.run(replay(settings, read_model, source=source))
            name = f"{read_model}_{source}"
            sample[f"{name}_per_s"] = round(result.events / result.seconds)
            sample[f"{name}_seconds"] = round(result.seconds, 1)
            if source == "archive":
                sample[f"{name}_share"] = round(result.from_archive / max(result.events, 1), 3)
        samples.append(sample)
        print(sample, flush=True)
    median = lambda key: round(statistics.median(s[key] for s in samples))  # noqa: E731
    report = {"rounds": samples}
    for read_model in topics:
        report[f"{read_model}_raw_per_s"] = median(f"{read_model}_raw_per_s")
    for read_model, source in REPLAYS:
        name = f"{read_model}_{source}"
        report[f"{name}_per_s"] = median(f"{name}_per_s")
        report[f"{name}_ratio_to_raw"] = round(
            report[f"{name}_per_s"] / report[f"{read_model}_raw_per_s"], 3
        )
    return report


def markdown(report: dict) -> str:
    rounds = report["rounds"]
    spread = lambda key: f"{min(r[key] for r in rounds):,}-{max(r[key] for r in rounds):,}"  # noqa: E731
    what = {
        "core": "graph, tweet store, engagements, timelines, caches; all 4 event topics",
        "search": "the index; tweets and engagements topics",
        "trends": "trend windows; trending-topics",
    }
    lines = [
        "## Replay (`make bench-replay`)",
        "",
        f"{report['events']:,} events on the log: the users of the first {report['edges']:,} "
        f"follows of the real Twitter graph, those follows, {report['tweets']:,} real tweet "
        f"texts and {report['likes']:,} likes; the live agents applied them at "
        f"{report['live_agents_per_s']:,} events/s. And {report['trend_rows']:,} rows on "
        "trending-topics, shaped as the trending job's (the top 10 hashtags of consecutive "
        "slices of the real texts). `chirp replay <read model>` from its start to the switch "
        f"(a fresh generation built, the handover, readers switched), {len(rounds)} rounds, "
        f"medians. Run {report['machine']['when']}, {report['machine']['cpus']} cores shared by "
        "the whole stack and the bench. Baseline: raw kafka-python consumption of the same "
        "topics, no decoding, in the same rounds.",
        "",
        "| read model (what it reads) | source | replay, records/s | baseline, records/s | ratio |",
        "|---|---|---|---|---|",
    ]
    for read_model, source in REPLAYS:
        name = f"{read_model}_{source}"
        lines.append(
            f"| {read_model} ({what[read_model]}) | {source} | {report[f'{name}_per_s']:,} "
            f"(rounds {spread(f'{name}_per_s')}) | {report[f'{read_model}_raw_per_s']:,} "
            f"(rounds {spread(f'{read_model}_raw_per_s')}) | x{report[f'{name}_ratio_to_raw']} |"
        )
    return "\n".join([*lines, ""])


if __name__ == "__main__":
    main()
