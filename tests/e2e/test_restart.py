"""A durable local stack: stop everything, start again on the same data directory, and every
read model is as it was.

The local broker keeps events in memory only. Stopping lets the archive agent catch up with
the log; starting writes the archive back onto the new broker before the agents start, and
carries every read model's position over to the restored log by event id, so the agents
resume where they stopped instead of applying the history again. One event on the log is
deliberately of an old schema version: it is archived, restored and read as it was, through
its upcaster.
"""

from __future__ import annotations

import random
import threading
import time

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from bench.workload import mixed_log, produce
from operations.stack import LocalStack
from streams.admin import log_end_offsets
from streams.topics import topic_registry
from tests.conftest import start_on
from tests.support.clients import eventually, follow, home, post, register
from tests.support.figures import report_figure
from tests.support.processes import processes_in_groups
from tests.support.read_models import (
    LIVE_GROUP,
    all_pages,
    differences,
    notifications_snapshot,
    old_tweet,
    run_workload,
    snapshot,
    table_dump,
    wait_caught_up,
)

pytestmark = pytest.mark.slow


def _caught_up(stack: LocalStack) -> dict[tuple[str, int], int]:
    """Wait until every agent has applied the whole log; return where the log ends."""
    ends = log_end_offsets(
        stack.settings.bootstrap_servers, topic_registry(stack.settings).event_topics()
    )
    applied = {f"{topic}:{partition}": end - 1 for (topic, partition), end in ends.items() if end}
    wait_caught_up(stack, LIVE_GROUP, "chirp:", applied)
    wait_caught_up(stack, f"{LIVE_GROUP}-notifications", "chirp:", applied)
    wait_caught_up(
        stack,
        f"{LIVE_GROUP}-search",
        "chirp:",
        {
            place: offset
            for place, offset in applied.items()
            if place.split(":")[0] in ("tweets", "engagements")
        },
    )
    return ends


def _raw_records(stack: LocalStack) -> list[bytes]:
    consumer = KafkaConsumer(
        bootstrap_servers=stack.settings.bootstrap_servers,
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
    )
    topics = topic_registry(stack.settings).event_topics()
    partitions = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    values = [message.value for message in consumer]
    consumer.close()
    return values


def _view(stack: LocalStack, base_url: str, users, tweet_ids) -> dict:
    view = snapshot(base_url, users, tweet_ids) | notifications_snapshot(base_url, users)
    view["tables"] = table_dump(stack, stack.settings.read_schema)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for query in ("burst", "#oldtimes"):
            view[f"search {query}"] = all_pages(client, "/api/v1/search", users[0], q=query)
    return view


def test_a_stopped_stack_starts_again_with_every_read_model_as_it_was(data_dir):
    stack, base_url = start_on(data_dir)
    try:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            users = [register(client, "rs") for _ in range(6)]
        tweet_ids: list[str] = []
        run_workload(
            lambda: httpx.Client(base_url=base_url, timeout=30), users, threading.Event(), tweet_ids
        )
        old_id = 7_000_000_000_000_000_001
        old = old_tweet(stack, users[1].user_id, old_id)
        tweet_ids.append(str(old_id))
        ends = _caught_up(stack)
        before = _view(stack, base_url, users, tweet_ids)
        records = sorted(_raw_records(stack))
        assert before[f"tweet {old_id}"][0] == 200
        assert [t["tweet_id"] for t in before["search #oldtimes"]] == [str(old_id)]
    finally:
        groups = stack.pids()
        stack.stop()
    assert not processes_in_groups(groups)

    stack, base_url = start_on(data_dir)
    try:
        assert _caught_up(stack) == ends
        after = _view(stack, base_url, users, tweet_ids)
        assert differences(after, before) == {}
        # The log came back whole, the old event as it was written.
        restored = sorted(_raw_records(stack))
        assert len(restored) == len(records) and old in restored
        assert restored == records
    finally:
        groups = stack.pids()
        stack.stop()
    assert not processes_in_groups(groups)


# Events in the data directory before the restart (the bound: a restart costs seconds
# whatever the history).
HISTORY = 100_000


def _applied(agents, read_model: str = "core") -> int:
    """Events the agents worker has applied to `read_model` since it started (its Prometheus
    counter)."""
    text = httpx.get(agents.metrics_url, timeout=10).text
    return round(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("chirp_events_applied_total{")
            and f'read_model="{read_model}"' in line
        )
    )


def test_a_restart_resumes_where_the_agents_stopped_and_new_posts_reach_followers_at_once(data_dir):
    stack, base_url = start_on(data_dir)
    try:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            author, reader = register(client, "resume"), register(client, "resume")
            follow(client, reader, author)
            home(client, reader)  # the reader is active: pushes reach their timeline
        rng = random.Random(3)
        edges = list({(rng.randrange(1, 3000), rng.randrange(1, 3000)) for _ in range(15_000)})
        edges = [(a, b) for a, b in edges if a != b]
        produce(
            stack.settings,
            mixed_log(
                edges, HISTORY - 3000 - len(edges), [f"history {n} #restart" for n in range(500)]
            ),
        )
        ends = _caught_up(stack)
        assert sum(ends.values()) >= HISTORY
    finally:
        stack.stop()

    restarted = time.monotonic()
    stack, base_url = start_on(data_dir)
    try:
        start_seconds = time.monotonic() - restarted
        agents = next(process for process in stack.processes if process.name == "agents")
        with httpx.Client(base_url=base_url, timeout=30) as client:
            started = time.monotonic()
            tweet_id = post(client, author, "right after the restart")
            seen = eventually(
                lambda: (
                    tweet_id
                    in {
                        t["tweet_id"]
                        for t in client.get("/api/v1/timeline/home", headers=reader.auth).json()[
                            "tweets"
                        ]
                    }
                ),
                timeout=10,
                interval=0.01,
            )
            visible_after = time.monotonic() - started
        assert seen and visible_after <= 1.0, visible_after
        assert sum(_caught_up(stack).values()) == sum(ends.values()) + 1
        # The restored history was applied before the stop: only the new post is applied now.
        applied = _applied(agents)
        applied_notifications = _applied(agents, "notifications")
        report_figure(
            f"restart with {sum(ends.values()):,} events: stack up in "
            f"{start_seconds:.1f} s, {applied} event(s) applied after it by the core agents "
            f"and {applied_notifications} by the notifications agent, a new post "
            f"in a follower's timeline after {visible_after * 1000:.0f} ms"
        )
        assert (applied, applied_notifications) == (1, 1)
    finally:
        stack.stop()
