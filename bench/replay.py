"""The replay benchmark: `make bench-replay` (or `python -m bench.replay`).

A log of real data on a local stack this bench starts: users and follows from the real
Twitter graph (../shared/data, the first `--edges` edges), `--tweets` real tweet texts posted
by those users, and `--likes` likes. The live agents apply it all first. Then, in
`--rounds` interleaved rounds, each figure beside its baseline from the same run:
- `chirp replay core` from Kafka and from the archive: events/s, from the start of the
  replay to the switch (a fresh generation built, the handover, the pointer switched);
- raw consumption: kafka-python reading the same records without decoding them.
Writes bench/results/replay-<time>.json and docs/benchmarks.md's replay section.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import random
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kafka import KafkaProducer

from bench.dataset import DATA_DIR
from bench.measure import raw_consume_seconds
from bench.report import save
from bench.timeline import machine
from infra.bootstrap import topic_registry
from infra.settings import Settings
from infra.stack import LocalStack
from infra.targets import core_generation_now
from projections.redis_keys import RedisKeys
from schemas import events as ev
from schemas.entities import extract_hashtags, extract_mentions
from streams.admin import log_end_offsets
from streams.ids import SnowflakeIds
from streams.replay import replay_core

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=40_000, help="follows from the real graph")
    parser.add_argument("--tweets", type=int, default=40_000)
    parser.add_argument("--likes", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="chirp-bench-replay-"))
    stack = LocalStack(Settings(data_dir=data_dir), ephemeral=True)
    try:
        settings = stack.start()
        stack.start_agents()
        events = produce_log(settings, args)
        started = time.perf_counter()
        caught_up(stack)
        live_seconds = time.perf_counter() - started
        report = measure(stack, events, args.rounds) | {
            "events": events, "edges": args.edges, "tweets": args.tweets, "likes": args.likes,
            "live_agents_per_s": round(events / live_seconds), "machine": machine()}
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    save(ROOT, "replay", report, markdown(report))


def produce_log(settings: Settings, args) -> int:
    """The workload's events onto the log, as the API would have written them."""
    edges = []
    with gzip.open(DATA_DIR / "follows.txt.gz", "rt") as lines:
        for line in lines:
            follower, followee = map(int, line.split())
            if follower != followee:
                edges.append((follower, followee))
            if len(edges) == args.edges:
                break
    users = sorted({user for edge in edges for user in edge})
    with gzip.open(DATA_DIR / "tweets.txt.gz", "rt", encoding="utf-8") as lines:
        texts = [text for line in lines if (text := line.rstrip("\n")) and len(text) <= 280]
    rng, ids = random.Random(11), SnowflakeIds(1)
    start = datetime.now(timezone.utc) - timedelta(days=1)
    registry = topic_registry(settings)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                             linger_ms=20, batch_size=512 * 1024)
    count = 0

    def send(event: ev.Event) -> None:
        nonlocal count
        topic, key = registry.route(event)
        producer.send(topic, ev.encode(event), key=key)
        count += 1

    at = lambda: start + timedelta(milliseconds=count)  # noqa: E731 - event time in log order
    for user in users:
        send(ev.UserRegistered(event_id=ids.next_id(), occurred_at=at(), actor_id=user,
                               user_id=user, username=f"u{user}"[:15], display_name=f"User {user}"))
    for follower, followee in edges:
        send(ev.UserFollowed(event_id=ids.next_id(), occurred_at=at(), actor_id=follower,
                             follower_id=follower, followee_id=followee))
    tweets = []
    for n in range(args.tweets):
        author, text, tweet_id = rng.choice(users), texts[n % len(texts)], ids.next_id()
        tweets.append(tweet_id)
        send(ev.TweetPosted(event_id=ids.next_id(), occurred_at=at(), actor_id=author,
                            tweet_id=tweet_id, author_id=author, content=text,
                            hashtags=extract_hashtags(text), mentions=extract_mentions(text)))
    for _ in range(args.likes):
        user, tweet_id = rng.choice(users), rng.choice(tweets)
        send(ev.TweetLiked(event_id=ids.next_id(), occurred_at=at(), actor_id=user,
                           tweet_id=tweet_id, user_id=user))
    producer.flush()
    producer.close()
    return count


def caught_up(stack: LocalStack, timeout: float = 1800) -> None:
    """Wait until the live agents have applied the whole log."""
    import psycopg
    import redis

    settings = stack.settings
    ends = log_end_offsets(settings.bootstrap_servers, topic_registry(settings).event_topics())
    with psycopg.connect(settings.postgres) as conn:
        generation = core_generation_now(conn, settings.read_schema)
    keys = RedisKeys(settings.model_copy(update={"core_generation": generation}).core_prefix)
    client = redis.Redis.from_url(settings.redis)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        applied = client.mget([keys.position(settings.agent_group, topic, partition)
                               for (topic, partition) in ends])
        if all(int(done or -1) >= end - 1 for done, end in zip(applied, ends.values())):
            return
        time.sleep(0.5)
    raise TimeoutError("the live agents did not apply the log in time")


def measure(stack: LocalStack, events: int, rounds: int) -> dict:
    settings = stack.settings
    samples = []
    for number in range(rounds):
        raw = raw_consume_seconds(stack.settings.bootstrap_servers,
                                  topic_registry(stack.settings).event_topics(), events)
        kafka = asyncio.run(replay_core(settings, source="kafka"))
        archive = asyncio.run(replay_core(settings, source="archive"))
        samples.append({"raw_consume_per_s": round(events / raw),
                        "replay_kafka_per_s": round(kafka.events / kafka.seconds),
                        "replay_kafka_seconds": round(kafka.seconds, 1),
                        "replay_archive_per_s": round(archive.events / archive.seconds),
                        "replay_archive_seconds": round(archive.seconds, 1),
                        "archive_share": round(archive.from_archive / max(archive.events, 1), 3)})
        print(samples[-1], flush=True)
    median = lambda key: round(statistics.median(s[key] for s in samples))  # noqa: E731
    raw = median("raw_consume_per_s")
    return {"rounds": samples, "raw_consume_per_s": raw,
            "replay_kafka_per_s": median("replay_kafka_per_s"),
            "replay_archive_per_s": median("replay_archive_per_s"),
            "kafka_ratio_to_raw": round(median("replay_kafka_per_s") / raw, 3),
            "archive_ratio_to_raw": round(median("replay_archive_per_s") / raw, 3)}


def markdown(report: dict) -> str:
    rounds = report["rounds"]
    spread = lambda key: f"{min(r[key] for r in rounds):,}-{max(r[key] for r in rounds):,}"  # noqa: E731
    return "\n".join([
        "## Replay (`make bench-replay`)",
        "",
        f"{report['events']:,} events on the log: the users of the first {report['edges']:,} "
        f"follows of the real Twitter graph, those follows, {report['tweets']:,} real tweet "
        f"texts and {report['likes']:,} likes; the live agents applied them at "
        f"{report['live_agents_per_s']:,} events/s. `chirp replay core` from its start to the "
        f"switch (a fresh generation built, the handover, readers switched), "
        f"{len(rounds)} rounds, medians. Run {report['machine']['when']}, "
        f"{report['machine']['cpus']} cores shared by the whole stack and the bench.",
        "",
        "| read model | replay, events/s | baseline (same run) |",
        "|---|---|---|",
        f"| core, from Kafka | {report['replay_kafka_per_s']:,}/s (rounds "
        f"{spread('replay_kafka_per_s')}) | raw kafka-python consumption, no decoding: "
        f"{report['raw_consume_per_s']:,}/s (rounds {spread('raw_consume_per_s')}); "
        f"x{report['kafka_ratio_to_raw']} of it |",
        f"| core, from the archive | {report['replay_archive_per_s']:,}/s (rounds "
        f"{spread('replay_archive_per_s')}) | x{report['archive_ratio_to_raw']} of raw "
        "consumption |",
        "",
    ])


if __name__ == "__main__":
    main()
