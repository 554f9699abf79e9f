"""The trending job on a real Flink, over a bounded input on the real broker: exact windows,
exact top N, events on the log twice counted once, and the same trends when the job runs twice
over the same input."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from redis.asyncio import Redis

from projections.redis_keys import RedisKeys
from projections.redis_trends import RedisTrends
from projections.trends import decode_trend_row
from streams.admin import ensure_topics
from streams.topics import TopicRegistry
from streams.trending import run
from tests.support.trending_input import (
    SLIDE,
    TOP_N,
    WINDOW,
    bounded_job,
    posts,
    produce,
    read_all,
    with_resends,
    workload,
)
from tests.support.trends_reference import as_tuple, expected_rows

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def topics(stack):
    registry = TopicRegistry(f"trend-{uuid.uuid4().hex[:8]}-", partitions=4)
    ensure_topics(stack.settings.bootstrap_servers, registry)
    return registry


def test_bounded_run_writes_exact_windows_and_runs_twice_to_the_same_trends(stack, topics, jars):
    bootstrap = stack.settings.bootstrap_servers
    events = workload()
    ends = produce(bootstrap, topics.tweets.name, with_resends(events))
    job = bounded_job(bootstrap, topics, ends)

    logs = stack.data_dir / "logs" / "flink"
    run(job, jars, log_dir=logs).wait()
    first = read_all(bootstrap, topics.trending.name)
    expected = expected_rows(posts(events), WINDOW, SLIDE, TOP_N)
    assert len(first) == len(expected)  # one row per (window, hashtag): none twice
    assert {as_tuple(row) for row in first} == expected

    # The known part, by hand: the oracle above is checked too.
    by_window, by_region = {}, {}
    for row in first:
        by_region.setdefault((row["window_end"], row["region"]), []).append(
            (row["rank"], row["hashtag"], row["count"])
        )
        if row["region"] != "global":
            continue
        # (rank, hashtag, count, previous_count, latest_count, velocity)
        by_window.setdefault(row["window_end"], []).append(as_tuple(row)[2:-1])
    # Velocity: the latest slide's pace against the rest of the window's, over the latter
    # (at least one a window): here both paces are twice the count (a 10 s window, 5 s slides).
    assert sorted(by_window["2026-01-01T00:00:10.000Z"]) == [
        (1, "a", 3, 3, 0, -1.0),
        (2, "b", 2, 2, 0, -1.0),
    ]
    assert sorted(by_window["2026-01-01T00:00:15.000Z"]) == [
        (1, "c", 3, 0, 3, 6.0),
        (2, "a", 1, 3, 1, 2.0),
    ]
    assert sorted(by_window["2026-01-01T00:00:20.000Z"]) == [
        (1, "c", 5, 3, 2, -1 / 3),
        (2, "a", 1, 1, 0, -1.0),
    ]
    assert sorted(by_window["2026-01-01T00:00:30.000Z"]) == [(1, "z", 1, 0, 1, 2.0)]
    # A small tag that has just begun rises faster than a large steady one.
    assert sorted(by_window["2026-01-01T00:02:00.000Z"]) == [
        (1, "flat", 20, 20, 10, 0.0),
        (2, "rise", 3, 0, 3, 6.0),
    ]

    # Each region its own top list, and the global one of every post, counts exact.
    end = "2026-01-01T00:02:20.000Z"
    assert sorted(by_region[(end, "global")]) == [
        (1, "chai", 4),
        (2, "coffee", 2),
        (3, "cricket", 1),
    ]
    assert sorted(by_region[(end, "IN")]) == [(1, "chai", 3), (2, "cricket", 1)]
    assert sorted(by_region[(end, "US")]) == [(1, "coffee", 2), (2, "chai", 1)]
    # The random mix's windows have rows of both regions too.
    assert {region for _, region in by_region} == {"global", "IN", "US"}

    # What readers see: the trends store after each run's rows, upserted as the agent does.
    prefix = f"{topics.prefix}test:"
    after_first = asyncio.run(_upsert(stack.settings.redis, prefix, first))
    assert len(after_first) == len(by_window)

    run(job, jars, log_dir=logs).wait()
    second = read_all(bootstrap, topics.trending.name)[len(first) :]
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
