"""The event producer: idempotent, acks from all replicas, awaitable from asyncio."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaError

from schemas.events import Event, encode
from streams.topics import TopicRegistry

log = logging.getLogger("chirp.producer")


class EventNotAcknowledged(RuntimeError):
    """The broker did not acknowledge an event.

    Raised by `enqueue`: the event was never sent. Raised by `wait`: it was sent and not
    acknowledged in time, so it may or may not be on the log (a broker that stalled with the
    request in hand appends it when it resumes).
    """


class EventProducer:
    """Publishes events to their topics and resolves once the broker has acknowledged them.

    kafka-python's producer is used because the local broker (Tansu) grants it a producer id
    for idempotence, which it refuses aiokafka's older InitProducerId request. Its sender
    runs on a background thread; acknowledgements are handed back to the event loop.

    After a failed delivery kafka-python would bump the producer epoch, which Tansu refuses,
    leaving the producer unusable; so a failure marks the producer broken and the next event
    goes through a fresh one. No event is lost by this: every event of the broken producer
    has already been reported as not acknowledged.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        registry: TopicRegistry,
        timeout_ms: int,
        security: dict[str, Any] | None = None,
    ) -> None:
        self.registry = registry
        self.bootstrap_servers = bootstrap_servers
        self.timeout_ms = timeout_ms
        # kafka-python's TLS and SASL arguments (infra/kafka_security.py), for every client.
        self.security = security or {}
        self._producer = self._connect()
        self._broken = False
        self._reconnecting: asyncio.Lock | None = None
        # A separate admin connection answers readiness probes with a real round trip.
        self._admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            request_timeout_ms=2000,
            client_id="chirp-api-health",
            **self.security,
        )
        self._admin_lock = threading.Lock()

    def _connect(self) -> KafkaProducer:
        producer = KafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            # The producer gives up on an event within the same bound the API waits for (the
            # broker may still append one it has received: see EventNotAcknowledged).
            request_timeout_ms=max(self.timeout_ms - 500, 1000),
            delivery_timeout_ms=self.timeout_ms,
            max_block_ms=self.timeout_ms,
            bootstrap_timeout_ms=self.timeout_ms,
            linger_ms=1,
            client_id="chirp-api",
            **self.security,
        )
        for topic in self.registry.event_topics():
            producer.partitions_for(topic.name)  # fetch metadata before the first write
        return producer

    async def enqueue(self, event: Event) -> asyncio.Future:
        """Hand `event` to the producer; the returned future resolves on the broker's ack.
        Raises EventNotAcknowledged if the event cannot even be sent.

        Enqueue order is partition order (the idempotent producer keeps it across retries),
        so callers that need events of one key in id order enqueue them in id order.
        """
        if self._broken:
            await self._reconnect()
        loop = asyncio.get_running_loop()
        acked: asyncio.Future = loop.create_future()

        def on_success(metadata) -> None:
            loop.call_soon_threadsafe(_settle, acked, metadata, None)

        def on_error(error: BaseException) -> None:
            self._broken = True
            loop.call_soon_threadsafe(_settle, acked, None, error)

        topic, key = self.registry.route(event)
        try:
            future = self._producer.send(topic, key=key, value=encode(event))
        except KafkaError as error:
            self._broken = True
            raise EventNotAcknowledged(str(error)) from error
        future.add_callback(on_success)
        future.add_errback(on_error)
        return acked

    async def _reconnect(self) -> None:
        self._reconnecting = self._reconnecting or asyncio.Lock()
        async with self._reconnecting:
            if not self._broken:
                return
            try:
                fresh = await asyncio.to_thread(self._connect)
            except KafkaError as error:
                raise EventNotAcknowledged(f"cannot reach the broker: {error}") from error
            stale, self._producer, self._broken = self._producer, fresh, False
            log.warning("replaced the event producer after a failed delivery")
            try:
                await asyncio.to_thread(stale.close, 0)
            except KafkaError as error:  # records it still held: each reported failed already
                log.info("closed the failed event producer: %s", error)

    async def wait(self, acked: asyncio.Future):
        """The acknowledged record's metadata (topic, partition, offset)."""
        try:
            return await asyncio.wait_for(asyncio.shield(acked), self.timeout_ms / 1000 + 1)
        except TimeoutError as error:
            raise EventNotAcknowledged("the broker did not answer in time") from error

    def ping(self) -> None:
        """Raise unless the broker answers a metadata request now (blocking; for /readyz)."""
        with self._admin_lock:
            self._admin.describe_cluster()

    def close(self) -> None:
        self._producer.close(timeout=5)
        self._admin.close()


def _settle(future: asyncio.Future, result, error) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(EventNotAcknowledged(str(error)))
    else:
        future.set_result(result)
