"""Builds the read-model adapters from Settings: one place for the API and the agents."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from infra.object_stores import media_base_url
from infra.redis_clients import async_redis
from infra.settings import Settings
from projections import postgres_engagements, postgres_graph, postgres_media, postgres_tweet_store
from projections.engagements import EngagementStore
from projections.graph import GraphStore
from projections.postgres_engagements import PostgresEngagementStore
from projections.postgres_graph import PostgresGraphStore
from projections.postgres_media import PostgresMedia
from projections.postgres_notifications import PostgresNotifications
from projections.postgres_tweet_store import PostgresTweetStore
from projections.progress import Progress
from projections.redis_cache import RedisCache
from projections.redis_keys import RedisKeys
from projections.redis_live import RedisLiveEvents
from projections.redis_progress import RedisProgress
from projections.redis_ranking import RedisRanking
from projections.redis_timelines import RedisTimelines
from projections.redis_trends import RedisTrends
from projections.search import SearchIndex
from projections.tweet_store import TweetStore

# Retries of a Redis command that found Redis unreachable (0.05 s doubling to 0.5 s each).
# Each PostgreSQL-backed store's DDL, all written with IF NOT EXISTS; read models take the
# schema name from settings, so a rebuild can target a fresh one.
READ_MODEL_SCHEMAS = [
    postgres_graph.SCHEMA_SQL,
    postgres_tweet_store.SCHEMA_SQL,
    postgres_engagements.SCHEMA_SQL,
    postgres_media.SCHEMA_SQL,
]

REDIS_RETRIES = 7
# How long a reader waits for a Redis reply before it fails (and is retried).
REDIS_READ_TIMEOUT_SECONDS = 5.0


@dataclass
class ReadModels:
    graph: GraphStore
    tweets: TweetStore
    engagements: EngagementStore
    media: PostgresMedia
    timelines: RedisTimelines
    cache: RedisCache
    progress: Progress
    trends: RedisTrends
    ranking: RedisRanking
    notifications: PostgresNotifications
    live: RedisLiveEvents
    keys: RedisKeys
    redis: Redis
    pool: AsyncConnectionPool
    settings: Settings  # at the generations these adapters use


def tweet_store(settings: Settings, pool: AsyncConnectionPool) -> TweetStore:
    if settings.tweet_store == "cassandra":
        from projections.cassandra_tweet_store import CassandraTweetStore

        return CassandraTweetStore(
            settings.cassandra_hosts.split(","),
            settings.cassandra_keyspace,
            cassandra_options(settings),
        )
    return PostgresTweetStore(pool, settings.core_schema)


def cassandra_options(settings: Settings):
    """The Cassandra tweet store's replication, consistency, data centre and login."""
    from projections.cassandra_tweet_store import CassandraOptions

    password = settings.cassandra_password
    return CassandraOptions(
        strategy=settings.cassandra_replication_strategy,
        replication_factor=settings.cassandra_replication_factor,
        datacenter=settings.cassandra_datacenter,
        consistency=settings.cassandra_consistency,
        username=settings.cassandra_username,
        password=password.get_secret_value() if password is not None else None,
    )


def elasticsearch_security(settings: Settings) -> dict[str, Any]:
    """The Elasticsearch client's API key and CA (CHIRP_ELASTICSEARCH_*), where set."""
    options: dict[str, Any] = {}
    if settings.elasticsearch_api_key is not None:
        options["api_key"] = settings.elasticsearch_api_key.get_secret_value()
    if settings.elasticsearch_ca_certs is not None:
        options["ca_certs"] = str(settings.elasticsearch_ca_certs)
    return options


@asynccontextmanager
async def open_read_models(
    settings: Settings,
    pool_size: int | None = None,
    setup: bool = False,
    redis_read_timeout: float | None = REDIS_READ_TIMEOUT_SECONDS,
):
    """Connect every read model named by `settings`, in the generations the deployment uses
    now (projections/targets.py), creating their tables if `setup`; `redis_read_timeout` None:
    wait for Redis replies as long as they take."""
    pool = AsyncConnectionPool(
        settings.postgres,
        min_size=2,
        max_size=pool_size or settings.postgres_pool_size,
        open=False,
        timeout=5,
    )
    await pool.open(wait=True, timeout=30)
    redis = redis_client(settings, redis_read_timeout)
    try:
        models = build_read_models(await _current(pool, settings), pool, redis)
        if setup:
            await setup_read_models(models)
        yield models
    finally:
        await redis.aclose()
        await pool.close()


def redis_client(
    settings: Settings, read_timeout: float | None = REDIS_READ_TIMEOUT_SECONDS
) -> Redis:
    """The read models' Redis client. A command that finds Redis unreachable is retried for
    about two seconds, so a restart of Redis costs readers a wait, not an error."""
    return async_redis(
        settings,
        socket_timeout=read_timeout,
        socket_connect_timeout=2,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), REDIS_RETRIES),
        # OSError: a refused connection, before redis-py wraps it.
        retry_on_error=[RedisConnectionError, RedisTimeoutError, OSError],
    )


async def _current(pool: AsyncConnectionPool, settings: Settings) -> Settings:
    from psycopg.errors import UndefinedTable

    from projections.targets import current

    try:
        return await current(pool, settings)
    except UndefinedTable:
        return settings  # storage prepared by an older version: only generation 1 exists


def build_read_models(settings: Settings, pool: AsyncConnectionPool, redis: Redis) -> ReadModels:
    """The read-model adapters of the generations `settings` name, over shared connections."""
    keys = RedisKeys(
        settings.core_prefix,
        root=settings.redis_prefix,
        trends_generation=settings.trends_generation,
    )
    return ReadModels(
        graph=PostgresGraphStore(pool, settings.core_schema),
        tweets=tweet_store(settings, pool),
        engagements=PostgresEngagementStore(pool, settings.core_schema),
        media=PostgresMedia(pool, settings.core_schema, media_base_url(settings)),
        timelines=RedisTimelines(
            redis,
            keys,
            settings.active_days * 86400,
            settings.home_timeline_cap,
            settings.recent_cap,
        ),
        cache=RedisCache(redis, keys, settings.cache_ttl_seconds),
        progress=RedisProgress(redis, keys, settings.agent_group),
        trends=RedisTrends(redis, keys),
        ranking=RedisRanking(redis, keys),
        notifications=PostgresNotifications(pool, settings.notifications_schema),
        live=RedisLiveEvents(redis, keys.live(), settings.stream_retention_events),
        keys=keys,
        redis=redis,
        pool=pool,
        settings=settings,
    )


async def setup_read_models(models: ReadModels) -> None:
    """Create the generation's tables if they are missing."""
    schema = models.settings.core_schema
    async with models.pool.connection() as conn, conn.transaction():
        # One process at a time: concurrent CREATE ... IF NOT EXISTS can still collide.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (schema,))
        for ddl in READ_MODEL_SCHEMAS:
            await conn.execute(ddl.format(schema=schema))
    await models.tweets.setup()
    await models.notifications.setup()


def search_index(settings: Settings, *, writable: bool = False) -> SearchIndex:
    """The search index named by `settings`; only the search agent's may be `writable` (tantivy
    allows one writer per index directory)."""
    if settings.search_engine == "elasticsearch":
        from projections.elasticsearch_search import ElasticsearchSearchIndex, elasticsearch_client

        if not settings.elasticsearch_url:
            raise ValueError("CHIRP_SEARCH_ENGINE=elasticsearch needs CHIRP_ELASTICSEARCH_URL")
        client = elasticsearch_client(
            settings.elasticsearch_url,
            api_stand_in=settings.elasticsearch_api_stand_in,
            **elasticsearch_security(settings),
        )
        return ElasticsearchSearchIndex(
            client,
            settings.elasticsearch_alias,
            generation=settings.search_generation,
            shards=settings.elasticsearch_shards,
            replicas=settings.elasticsearch_replicas,
            retention_months=settings.elasticsearch_retention_months,
        )
    from projections.tantivy_search import TantivySearchIndex

    return TantivySearchIndex(settings.search_directory, writable=writable)
