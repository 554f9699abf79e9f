"""The Faust app: a worker process runs every projection agent; started N times, the workers
share each read model's partitions (a consumer group per read model; docs/deploy.md)."""

from __future__ import annotations

import asyncio
import logging

import faust

from agents.archive import ARCHIVE_BATCHING, apply_archive, archived_positions
from agents.batches import apply_records, record_batch
from agents.consumer import BatchConsumer, Batching
from agents.context import AgentContext, agent_context, close_agent_context
from agents.core import apply_core
from agents.erasure import screened
from agents.handover import follow_targets
from agents.media import MEDIA_BATCHING, apply_media, close_media_processor
from agents.notifications import NOTIFICATIONS_BATCHING, apply_notifications
from agents.search import SEARCH_BATCHING, apply_search
from agents.search_writer import stand_by
from agents.trends import consume_trends
from infra.kafka_security import faust_credentials
from infra.logs import logging_config
from infra.settings import get_settings
from projections.targets import ReadModel, group_of
from streams.topics import topic_registry

READY_LINE = "chirp agents ready"
log = logging.getLogger("chirp.agents")
settings = get_settings()
topics = topic_registry(settings)

app = faust.App(
    f"{settings.topic_prefix}{settings.agent_group}",
    broker=f"kafka://{settings.bootstrap_servers}",
    broker_credentials=faust_credentials(settings),
    value_serializer="raw",
    key_serializer="raw",
    store="memory://",
    datadir=str(settings.data_dir / "faust"),
    web_enabled=False,
    # Faust's own topics (its partition assignor's; changelogs, had it tables), as the others.
    topic_replication_factor=settings.topic_replication_factor,
    topic_partitions=settings.partitions,
    # A new consumer group starts at the beginning of the log: read models are rebuilt whole.
    consumer_auto_offset_reset="earliest",
    # The local broker holds a join open for the whole rebalance timeout before it assigns:
    # keep it short so a (re)started worker is consuming within seconds.
    broker_rebalance_timeout=3.0,
    broker_session_timeout=10.0,
    broker_heartbeat_interval=1.0,
    broker_commit_every=500,
    broker_commit_interval=1.0,
    logging_config=logging_config("agents", settings),
)

dead_letters = app.topic(topics.dead_letters.name, key_type=bytes, value_type=bytes)


def _topic(*names: str):
    return app.topic(*names, key_type=bytes, value_type=bytes, acks=True)


# The event projections: a consumer group each, applying whole batches (agents/consumer.py).
# A follower should see a post at once: the core's batches are the smallest and most frequent
# (agents/consumer.py says what each figure does).
CORE_BATCHING = Batching(max_records=5000, fetch_wait_ms=10, interval_ms=30)
# A consumer that failed for a reason no retry inside it mends starts again after this.
RESTART_SECONDS = 1.0
consumers: dict[str, BatchConsumer] = {}


def _batch_consumer(
    read_model: str, topic_names: list[str], batching: Batching, apply, resume=None
) -> None:
    """Run a BatchConsumer for `read_model` as a task of this worker, restarted if it fails;
    the search consumer only once this worker writes the index (agents/search_writer.py)."""

    async def handle(records: list) -> None:
        await apply(await agent_context(settings), records)

    async def recorded(places: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        context = await agent_context(settings)
        if resume is not None:
            return await resume(context, places)
        return await context.models.progress.positions(places, group_of(settings, read_model))

    async def ready() -> None:
        gate = (await agent_context(settings)).gates.get(read_model)
        if gate is not None:
            await gate.wait()

    consumer = BatchConsumer(
        settings,
        f"{settings.topic_prefix}{settings.agent_group}-{read_model}",
        topic_names,
        handle,
        recorded,
        batching,
        ready,
    )
    consumers[read_model] = consumer

    async def run() -> None:
        if read_model == ReadModel.SEARCH:
            await (await agent_context(settings)).search_writer.wait()
        while True:
            try:
                await consumer.run()
            except Exception:  # logged; the consumer starts again
                log.exception("the %s consumer failed; restarting it", read_model)
                await asyncio.sleep(RESTART_SECONDS)

    run.__name__ = run.__qualname__ = f"{read_model}_consumer"
    app.task(run)


def _applied_to(read_model: ReadModel, apply):
    """Apply a batch of records to `read_model` with `apply` (decoded events in, poison
    dead-lettered), and record how far it got."""

    async def handle(context: AgentContext, records: list) -> None:
        async with context.applying(read_model):  # held while a replay takes it over
            await apply_records(context, records, apply, dead_letters)
            await record_batch(context, read_model, records)

    return handle


_batch_consumer(
    ReadModel.CORE,
    [topic.name for topic in topics.event_topics()],
    CORE_BATCHING,
    _applied_to(ReadModel.CORE, screened(apply_core)),
)
_batch_consumer(
    ReadModel.NOTIFICATIONS,
    [topic.name for topic in topics.event_topics()],
    NOTIFICATIONS_BATCHING,
    _applied_to(ReadModel.NOTIFICATIONS, screened(apply_notifications)),
)
_batch_consumer(
    ReadModel.SEARCH,
    [topics.users.name, topics.tweets.name, topics.engagements.name],
    SEARCH_BATCHING,
    lambda context, records: apply_search(context, records, dead_letters),
)
_batch_consumer(
    "archive",
    [topic.name for topic in topics.event_topics()],
    ARCHIVE_BATCHING,
    apply_archive,
    resume=archived_positions,
)
_batch_consumer(
    "media",
    [topics.tweets.name],
    MEDIA_BATCHING,
    lambda context, records: apply_media(context, records, dead_letters),
)


@app.agent(_topic(topics.trending.name), name="trends")
async def trends_agent(stream):
    await consume_trends(stream, await agent_context(settings), dead_letters)


@app.task
async def _follow_targets() -> None:
    """Pause for a replay's handover and move to the generation it switches to."""
    await follow_targets(await agent_context(settings))


@app.task
async def _stand_by_for_search() -> None:
    """On a worker that does not write the search index: take it over when its writer ends."""
    context = await agent_context(settings)
    if context.search_writer.is_set():
        return

    async def take_over(index) -> None:
        context.search = index
        context.search_writer.set()

    await stand_by(context.models.settings, context.models.pool, take_over)


@app.task
async def _serve_metrics() -> None:
    """Prometheus metrics of this worker, on their own port (a thread of prometheus_client)."""
    if settings.agents_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.agents_metrics_port, addr="127.0.0.1")


_faust_assigned = asyncio.Event()


@app.on_partitions_assigned.connect
async def _on_faust_assignment(sender, /, *args, signal, **kwargs) -> None:
    # Possibly none: trending-topics has one partition, so one worker of several reads it.
    _faust_assigned.set()


@app.task
async def _announce_ready() -> None:
    """Say so once partitions are assigned: the launcher waits for this line."""

    context = await agent_context(settings)
    await _faust_assigned.wait()
    for read_model, consumer in consumers.items():
        if read_model == ReadModel.SEARCH and not context.search_writer.is_set():
            continue  # standing by: its consumer starts when this worker takes the index
        await consumer.assigned.wait()
    log.info(READY_LINE)


class _Cleanup(faust.Service):
    async def on_stop(self) -> None:
        await close_media_processor()
        await close_agent_context()


app.service(_Cleanup)
