"""The trending benchmark: `make bench-trending` (or `python -m bench.trending`).

The 127k real tweet texts (../shared/data), `--copies` times over, posted as TweetPosted events
spread evenly over `--hours` of event time onto a broker this bench starts. Figures, each
beside its baseline from the same run, in `--rounds` interleaved rounds:
- the Flink job (production windows: 1 h every 5 min, top 10), a bounded run over every
  event, minus the same job's run over a handful of events (its start-up and shutdown):
  events/s through the job;
- raw consumption: kafka-python reading the same records without decoding them.
Writes bench/results/trending-<time>.json and docs/benchmarks.md's trending section.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from bench.dataset import DATA_DIR
from bench.measure import raw_consume_seconds
from bench.report import save
from bench.timeline import machine
from infra.flink import connector_jars
from infra.servers import KafkaServer, free_port
from infra.settings import get_settings
from schemas import events as ev
from schemas.entities import extract_hashtags
from streams.admin import ensure_topics
from streams.topics import TopicRegistry
from streams.trending import TrendingJob, run

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 4
AUTHORS = 1000
# The job's fixed cost is measured on this many events.
SMALL = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8, help="times the corpus is posted")
    parser.add_argument("--hours", type=float, default=24, help="event time the posts span")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--state-backend",
        choices=("rocksdb", "hashmap"),
        default="hashmap",
        help="where the job keeps its window state",
    )
    args = parser.parse_args()
    with gzip.open(DATA_DIR / "tweets.txt.gz", "rt", encoding="utf-8") as lines:
        texts = [line.rstrip("\n") for line in lines]
    data_dir = Path(tempfile.mkdtemp(prefix="chirp-bench-trending-"))
    kafka = KafkaServer(free_port(), data_dir)
    try:
        kafka.start()
        report = measure(
            kafka.bootstrap, texts * args.copies, args, data_dir / "logs" / "flink"
        ) | {"machine": machine()}
    finally:
        kafka.process.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    save(ROOT, "trending", report, markdown(report))


def measure(bootstrap: str, texts: list[str], args, log_dir: Path) -> dict:
    big, small = TopicRegistry("big-", PARTITIONS), TopicRegistry("small-", PARTITIONS)
    for registry in (big, small):
        ensure_topics(bootstrap, registry)
    started = time.perf_counter()
    ends = produce(bootstrap, big.tweets.name, texts, timedelta(hours=args.hours))
    produce_seconds = time.perf_counter() - started
    small_ends = produce(bootstrap, small.tweets.name, texts[:SMALL], timedelta(hours=args.hours))
    jars = connector_jars()
    # As the job's JVM gets them (before run() adds its temporary directory).
    jvm_args = os.environ.get("JVM_ARGS", get_settings().flink_jvm_args)
    rounds = []
    for number in range(args.rounds):
        raw = raw_consume_seconds(bootstrap, [big.tweets], len(texts))
        fixed = timed_job(
            bootstrap, small, small_ends, jars, f"small-{number}", log_dir, args.state_backend
        )
        whole = timed_job(bootstrap, big, ends, jars, f"big-{number}", log_dir, args.state_backend)
        rounds.append(
            {
                "raw_consume_per_s": round(len(texts) / raw),
                "job_seconds": round(whole, 2),
                "job_fixed_seconds": round(fixed, 2),
                "job_per_s": round(len(texts) / (whole - fixed)),
                "job_gross_per_s": round(len(texts) / whole),
            }
        )
        print(rounds[-1], flush=True)
    rows = count_rows(bootstrap, big.trending.name)
    job = statistics.median(r["job_per_s"] for r in rounds)
    raw = statistics.median(r["raw_consume_per_s"] for r in rounds)
    return {
        "events": len(texts),
        "tagged": sum(1 for t in texts if extract_hashtags(t)),
        "hours": args.hours,
        "window": "1 h every 5 min, top 10",
        "state_backend": args.state_backend,
        "jvm_args": jvm_args,
        "produce_per_s": round(len(texts) / produce_seconds),
        "rounds": rounds,
        "job_per_s": round(job),
        "raw_consume_per_s": round(raw),
        "ratio_to_raw": round(job / raw, 3),
        "rows_per_run": rows // args.rounds,
    }


def produce(bootstrap: str, topic: str, texts: list[str], span: timedelta) -> dict[int, int]:
    """Post the texts in order over `span` of event time ending now; return partition ends."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=512 * 1024
    )
    rng = random.Random(3)
    start = datetime.now(UTC) - span
    step = span / len(texts)
    futures = {}
    for number, text in enumerate(texts):
        author = rng.randrange(1, AUTHORS + 1)
        event = ev.TweetPosted(
            event_id=number + 1,
            occurred_at=start + step * number,
            actor_id=author,
            tweet_id=number + 1,
            author_id=author,
            content=text,
            hashtags=extract_hashtags(text),
        )
        futures[author % PARTITIONS] = producer.send(
            topic, ev.encode(event), partition=author % PARTITIONS
        )
    producer.flush()
    ends = {partition: future.get().offset + 1 for partition, future in futures.items()}
    producer.close()
    return ends | {p: 0 for p in range(PARTITIONS) if p not in ends}


def timed_job(
    bootstrap: str,
    topics: TopicRegistry,
    ends: dict[int, int],
    jars,
    group: str,
    log_dir: Path,
    state_backend: str,
) -> float:
    """Seconds from submitting a bounded run of the production job to its end."""
    job = TrendingJob(
        bootstrap,
        topics.tweets.name,
        topics.trending.name,
        group_id=group,
        readers=PARTITIONS,
        stop_offsets=ends,
    )
    started = time.perf_counter()
    run(
        job,
        jars,
        jvm_args=get_settings().flink_jvm_args,
        log_dir=log_dir,
        state_backend=state_backend,
    ).wait()
    return time.perf_counter() - started


def count_rows(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
        enable_auto_commit=False,
    )
    rows = sum(1 for _ in consumer)
    consumer.close()
    return rows


def markdown(report: dict) -> str:
    rounds = report["rounds"]

    def spread(key: str) -> str:
        return f"{min(r[key] for r in rounds):,}-{max(r[key] for r in rounds):,}"

    return "\n".join(
        [
            "## Trending (`make bench-trending`)",
            "",
            f"{report['events']:,} TweetPosted events (the 127k real texts repeated; "
            f"{report['tagged']:,} with hashtags) over {report['hours']:g} h of event time, "
            f"4 partitions; the production job ({report['window']}, one reader per partition, "
            f"state in {report['state_backend']}), {len(rounds)} rounds, medians. "
            f"Run {report['machine']['when']}, {report['machine']['cpus']} cores shared by the "
            f"broker, the JVM ({report['jvm_args']}) and the bench.",
            "",
            "| figure | value | baseline (same run) |",
            "|---|---|---|",
            f"| Flink job, events/s (bounded run minus the same job over {SMALL} events) | "
            f"{report['job_per_s']:,}/s (rounds {spread('job_per_s')}) | raw kafka-python "
            f"consumption, no decoding: {report['raw_consume_per_s']:,}/s (rounds "
            f"{spread('raw_consume_per_s')}); the job runs at x{report['ratio_to_raw']} of it |",
            f"| the job's fixed cost (start-up, shutdown) | {spread('job_fixed_seconds')} s | |",
            f"| rows written per run | {report['rows_per_run']:,} | |",
            "",
        ]
    )


if __name__ == "__main__":
    main()
