"""Create the registry's topics on a broker (idempotent: existing topics are left alone)."""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.topics import TopicRegistry


def ensure_topics(bootstrap_servers: str, registry: TopicRegistry) -> None:
    """Create every topic of `registry` that the broker does not have yet."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(topic.name, topic.partitions, 1)
                   for topic in registry.all() if topic.name not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another process created them first
    finally:
        admin.close()
