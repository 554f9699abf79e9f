"""Timing helpers: closed-loop load with a fixed concurrency, percentiles over every sample."""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.settings import Settings
from operations.stack import LocalStack
from streams.topics import Topic

# An API for a bench: cheap password hashing, and no write, login or sign-up limits (a bench
# writes and signs up far faster than a person may, all from one address).
BENCH_API = {
    "CHIRP_PASSWORD_TIME_COST": "1",
    "CHIRP_PASSWORD_MEMORY_KIB": "8192",
    "CHIRP_RATE_LIMIT_TWEETS_PER_MINUTE": "0",
    "CHIRP_RATE_LIMIT_FOLLOWS_PER_HOUR": "0",
    "CHIRP_RATE_LIMIT_LIKES_PER_HOUR": "0",
    "CHIRP_LOGIN_FAILURES_PER_USERNAME": "0",
    "CHIRP_LOGIN_FAILURES_PER_IP": "0",
    "CHIRP_SIGNUP_PER_IP_PER_HOUR": "0",
}


@contextmanager
def bench_stack(name: str) -> Iterator[tuple[LocalStack, Settings]]:
    """A local stack of the bench's own on a fresh data directory, on the real data; stopped
    and removed on the way out."""
    from bench.dataset import DATA_DIR, available

    if not available():
        raise SystemExit(f"the benchmark needs the real data in {DATA_DIR}")
    data_dir = Path(tempfile.mkdtemp(prefix=f"chirp-bench-{name}-"))
    stack = LocalStack(Settings(data_dir=data_dir), ephemeral=True)
    try:
        yield stack, stack.start()
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


def p50_p99(samples_s: list[float]) -> dict:
    return {
        "p50_ms": round(percentile(samples_s, 0.5) * 1000, 2),
        "p99_ms": round(percentile(samples_s, 0.99) * 1000, 2),
        "count": len(samples_s),
    }


def merge_runs(runs: list[dict]) -> dict:
    """One summary over several closed-loop runs of the same operation: all their samples
    over all their time."""
    samples = [sample for run in runs for sample in run["samples_s"]]
    return summary(samples, sum(run["seconds"] for run in runs))


def summary(samples_s: list[float], seconds: float) -> dict:
    """Throughput and latency percentiles (milliseconds) of one measured run."""
    return {
        "requests": len(samples_s),
        "throughput_per_s": round(len(samples_s) / seconds, 1),
        "p50_ms": round(percentile(samples_s, 0.50) * 1000, 2),
        "p99_ms": round(percentile(samples_s, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(samples_s) * 1000, 2),
    }


async def closed_loop(
    operation: Callable[[int], Awaitable[None]], concurrency: int, seconds: float
) -> dict:
    """Run `operation(n)` from `concurrency` workers back to back for `seconds`."""
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await operation(next(counter))
            samples.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return summary(samples, seconds) | {"samples_s": samples, "seconds": seconds}


async def at_steady_rate(operation: Callable, items, rate: float) -> None:
    """Start `operation(item)` for each item, `rate` per second, whatever earlier ones are
    doing (as independent clients do), and wait for them all."""
    started = time.perf_counter()
    tasks = []
    for n, item in enumerate(items):
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(operation(item)))
    await asyncio.gather(*tasks)


def raw_consume_seconds(bootstrap: str, topics: list[Topic], expected: int) -> float:
    """Seconds for kafka-python to read `expected` records of `topics` from the start, without
    decoding them: the baseline a consumer of the log is measured against."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=32 << 20,
    )
    partitions = [
        TopicPartition(topic.name, number) for topic in topics for number in range(topic.partitions)
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    started, seen = time.perf_counter(), 0
    while seen < expected:
        seen += sum(
            len(batch) for batch in consumer.poll(timeout_ms=1000, max_records=50_000).values()
        )
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed
