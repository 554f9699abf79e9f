"""Reads every event back from the real broker, for assertions."""

from __future__ import annotations

import time

import psycopg
from kafka import KafkaConsumer, TopicPartition

from schemas import sealing
from schemas.events import Event, UndecodableEvent, decode
from streams.topics import TopicRegistry

# The local broker's list-offsets answer is not the end of a partition, so "read to the end"
# means: poll until nothing new has arrived for this long. Every event the API acknowledged
# is already on the broker when the response arrives, so a short quiet spell is enough.
QUIET_SECONDS = 1.0


class EventLog:
    """All events of a stack's event topics, read from the beginning and kept in order."""

    def __init__(
        self, bootstrap_servers: str, registry: TopicRegistry, postgres: str | None = None
    ) -> None:
        """`postgres`: the write model's database, whose keys open sealed events (those of
        deleted accounts stay sealed); None: they stay sealed."""
        self._postgres = postgres
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            enable_auto_commit=False,
            fetch_max_wait_ms=100,
            consumer_timeout_ms=int(QUIET_SECONDS * 1000),
        )
        partitions = [
            TopicPartition(topic.name, number)
            for topic in registry.event_topics()
            for number in range(topic.partitions)
        ]
        self._consumer.assign(partitions)
        self._consumer.seek_to_beginning(*partitions)
        self.records: list[tuple[str, int, bytes | None, Event]] = []
        # The highest offset read so far in each "topic:partition".
        self.ends: dict[str, int] = {}

    def sync(self) -> list[Event]:
        """Read what arrived since the last call; return every event seen so far."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            batch = self._consumer.poll(timeout_ms=int(QUIET_SECONDS * 1000), max_records=5000)
            if not batch:
                break
            for tp, messages in batch.items():
                for message in messages:
                    self.ends[f"{tp.topic}:{tp.partition}"] = message.offset
                    try:
                        event = decode(message.value)
                    except UndecodableEvent:
                        continue  # poison some tests write on purpose: no event of anyone's
                    self.records.append((tp.topic, tp.partition, message.key, event))
        self._open()
        return self.events

    def _open(self) -> None:
        sealed = [i for i, record in enumerate(self.records) if sealing.is_sealed(record[3])]
        if not sealed or self._postgres is None:
            return
        owners = sorted({sealing.owner(self.records[i][3]) for i in sealed})
        with psycopg.connect(self._postgres) as conn:
            keys = dict(
                conn.execute(
                    "SELECT user_id, key FROM write_model.user_keys WHERE user_id = ANY(%s)",
                    (owners,),
                ).fetchall()
            )
        for i in sealed:
            topic, partition, key, event = self.records[i]
            if (owner_key := keys.get(sealing.owner(event))) is not None:
                self.records[i] = (topic, partition, key, sealing.unseal(event, bytes(owner_key)))

    @property
    def events(self) -> list[Event]:
        return [record[3] for record in self.records]

    def by_actor(self, *actor_ids: int) -> list[Event]:
        wanted = set(actor_ids)
        return [event for event in self.sync() if event.actor_id in wanted]

    def close(self) -> None:
        self._consumer.close()
