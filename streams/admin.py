"""Topics on a broker: create the registry's (idempotent), and find where partitions end."""

from __future__ import annotations

import contextlib
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.topics import Topic, TopicRegistry


def ensure_topics(
    bootstrap_servers: str, registry: TopicRegistry, security: dict[str, Any] | None = None
) -> None:
    """Create every topic of `registry` that the broker does not have yet, with its
    partitions, replication and configuration (`security`: kafka-python's TLS and SASL
    arguments, infra/kafka_security.py). An existing topic is left as it is."""
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000, **(security or {})
    )
    try:
        existing = set(admin.list_topics())
        missing = [new_topic(topic) for topic in registry.all() if topic.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process created them
                admin.create_topics(missing)
    finally:
        admin.close()


def new_topic(topic: Topic) -> NewTopic:
    """The creation request of `topic`."""
    return NewTopic(
        topic.name, topic.partitions, topic.replication_factor, topic_configs=dict(topic.configs)
    )


def log_end_offsets(
    bootstrap_servers: str, topics: list[Topic], security: dict[str, Any] | None = None
) -> dict[tuple[str, int], int]:
    """The offset after the last record of each partition of `topics`.

    The local broker's list-offsets answer is the start of a partition's last batch, not its
    end: this reads on from there to the last record. For a partition no one is writing to."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
        **(security or {}),
    )
    try:
        partitions = [
            TopicPartition(topic.name, number)
            for topic in topics
            for number in range(topic.partitions)
        ]
        consumer.assign(partitions)
        ends = {tp: offset for tp, offset in consumer.end_offsets(partitions).items()}
        for tp, offset in ends.items():
            consumer.seek(tp, offset)
        while True:
            batch = consumer.poll(timeout_ms=500, max_records=10_000)
            if not batch:
                break
            for tp, messages in batch.items():
                ends[tp] = max(ends[tp], messages[-1].offset + 1)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
    finally:
        consumer.close()
