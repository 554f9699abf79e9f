"""The Faust app: one worker process runs every projection agent."""

from __future__ import annotations

import logging

import faust

from agents import low_latency
from agents.archive import consume_archive
from agents.batches import consume
from agents.context import agent_context, close_agent_context, follow_targets
from agents.engagements import apply_engagement_event
from agents.graph import apply_graph_event
from agents.search import consume_search
from agents.trends import consume_trends
from agents.tweets import apply_tweet_event
from infra.bootstrap import topic_registry
from infra.logs import logging_config
from infra.settings import get_settings

READY_LINE = "chirp agents ready"
log = logging.getLogger("chirp.agents")
low_latency.install()
settings = get_settings()
topics = topic_registry(settings)

app = faust.App(
    f"{settings.topic_prefix}{settings.agent_group}",
    broker=f"kafka://{settings.bootstrap_servers}",
    value_serializer="raw",
    key_serializer="raw",
    store="memory://",
    datadir=str(settings.data_dir / "faust"),
    web_enabled=False,
    topic_replication_factor=1,
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


# One agent per topic family; each applies its events in partition order.
@app.agent(_topic(topics.users.name, topics.follows.name), name="graph")
async def graph_agent(stream):
    await consume(stream, await agent_context(settings), apply_graph_event, dead_letters)


@app.agent(_topic(topics.tweets.name), name="tweets")
async def tweets_agent(stream):
    await consume(stream, await agent_context(settings), apply_tweet_event, dead_letters)


@app.agent(_topic(topics.engagements.name), name="engagements")
async def engagements_agent(stream):
    await consume(stream, await agent_context(settings), apply_engagement_event, dead_letters)


@app.agent(_topic(topics.tweets.name, topics.engagements.name), name="search")
async def search_agent(stream):
    await consume_search(stream, await agent_context(settings), dead_letters)


@app.agent(_topic(*(topic.name for topic in topics.event_topics())), name="archive")
async def archive_agent(stream):
    await consume_archive(stream, await agent_context(settings))


@app.agent(_topic(topics.trending.name), name="trends")
async def trends_agent(stream):
    await consume_trends(stream, await agent_context(settings), dead_letters)


@app.task
async def _follow_targets() -> None:
    """Pause for a replay's handover and move to the generation it switches to."""
    await follow_targets(await agent_context(settings))


@app.task
async def _serve_metrics() -> None:
    """Prometheus metrics of this worker, on their own port (a thread of prometheus_client)."""
    if settings.agents_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.agents_metrics_port, addr="127.0.0.1")


@app.task
async def _announce_ready() -> None:
    """Say so once partitions are assigned: the launcher waits for this line."""
    import asyncio

    while not app.consumer.assignment():
        await asyncio.sleep(0.1)
    log.info(READY_LINE)


class _Cleanup(faust.Service):
    async def on_stop(self) -> None:
        await close_agent_context()


app.service(_Cleanup)
