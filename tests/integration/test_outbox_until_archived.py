"""The outbox keeps an acknowledged event until the archive holds it (the default), and sends
it once all the same: while the archive lags past the resend age, no relay of any API process
sends it again, because the mark "acknowledged" is in the outbox row, not in the memory of the
process that sent it. Once the archive holds the events they leave the outbox."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
from kafka import KafkaConsumer, TopicPartition

from commands.runner import RELAY_INTERVAL_SECONDS, RESEND_AFTER_EXTRA_SECONDS
from schemas import events as ev
from streams.admin import log_end_offsets
from streams.topics import topic_registry
from tests.conftest import TEST_PASSWORD_COST, TEST_SETTINGS
from tests.support.clients import User, eventually, post, register

PRODUCE_TIMEOUT_MS = 2000  # the least the producer takes (linger + request timeout)
POSTS = 24


def _posted_since(bootstrap: str, starts: dict[tuple[str, int], int]) -> list[int]:
    """The tweet ids of every TweetPosted written after `starts`, as often as each is there."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=1000
    )
    try:
        partitions = [TopicPartition(topic, partition) for topic, partition in starts]
        consumer.assign(partitions)
        for (topic, partition), offset in starts.items():
            consumer.seek(TopicPartition(topic, partition), offset)
        return [
            event.tweet_id
            for record in consumer
            if isinstance(event := ev.decode(record.value), ev.TweetPosted)
        ]
    finally:
        consumer.close()


def _outbox(stack, author: User) -> tuple[int, bool, float]:
    """How many of the author's events are in the outbox, are all acknowledged, and the age of
    the youngest in seconds."""
    with psycopg.connect(stack.settings.postgres) as conn:
        return conn.execute(
            "SELECT count(*), coalesce(bool_and(acknowledged), false),"
            " coalesce(extract(epoch FROM now() - max(created_at)), 0)::float"
            " FROM write_model.unconfirmed_events WHERE actor = %s",
            (f"user:{author.user_id}",),
        ).fetchone()


def test_acknowledged_events_are_sent_once_while_the_archive_lags(stack, agents):
    base_url = stack.start_api(
        **TEST_PASSWORD_COST,
        **TEST_SETTINGS,
        CHIRP_API_WORKERS="2",
        CHIRP_PRODUCE_TIMEOUT_MS=str(PRODUCE_TIMEOUT_MS),
    )
    resend_after = PRODUCE_TIMEOUT_MS / 1000 + RESEND_AFTER_EXTRA_SECONDS
    bootstrap = stack.settings.bootstrap_servers
    starts = log_end_offsets(bootstrap, [topic_registry(stack.settings).tweets])
    # The session's worker now (a fault test may have replaced the first one): stopped, its
    # archive agent reads nothing, so every post stays in the outbox, acknowledged.
    [worker] = [item for item in stack.processes if item.name == "agents" and item.running()]
    os.killpg(worker.popen.pid, signal.SIGSTOP)
    try:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            author = register(client, "lag")

        def post_alone(number: int) -> int:
            # A connection of its own each: both API processes take posts.
            with httpx.Client(base_url=base_url, timeout=30) as client:
                return int(post(client, author, f"lagging archive {number}"))

        with ThreadPoolExecutor(4) as pool:
            tweet_ids = list(pool.map(post_alone, range(POSTS)))
        # Every relay looks once a second: let each look at least twice at events past the
        # resend age. The condition is the youngest event's age, read in PostgreSQL.
        assert eventually(
            lambda: _outbox(stack, author)[2] > resend_after + 2 * RELAY_INTERVAL_SECONDS,
            timeout=30,
        )
        kept, acknowledged, _ = _outbox(stack, author)
        assert (kept, acknowledged) == (POSTS, True)
    finally:
        os.killpg(worker.popen.pid, signal.SIGCONT)
    assert eventually(lambda: _outbox(stack, author)[0] == 0, timeout=60), "archived, they left"
    posted = _posted_since(bootstrap, starts)
    assert sorted(tweet_id for tweet_id in posted if tweet_id in set(tweet_ids)) == sorted(
        tweet_ids
    )
