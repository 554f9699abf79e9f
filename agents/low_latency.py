"""Faust's Kafka consumer, with a fetch wait short enough for sub-second fan-out.

Faust hard-codes `fetch_max_wait_ms=1500` for its worker consumer, and the local broker holds
an empty fetch for its whole wait instead of answering as soon as a record arrives, so a
tweet could sit ~0.5 s before the agents even see it. A short wait costs a few idle fetch
round trips a second on loopback and brings post -> visible down to milliseconds.
"""

from __future__ import annotations

from faust.transport.drivers import aiokafka as faust_aiokafka

FETCH_MAX_WAIT_MS = 10


class LowLatencyConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by the fetcher at start()
        return consumer


def install() -> None:
    """Make Faust's aiokafka consumer use the short fetch wait (call before the app starts)."""
    faust_aiokafka.Consumer._new_consumer_thread = (
        lambda self: LowLatencyConsumerThread(self, loop=self.loop, beacon=self.beacon))
