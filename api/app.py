"""The API's composition root: builds the adapters from Settings and hands them to the routes."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import secrets
import signal
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.body_limits import BodyLimitMiddleware, SingleQueryValuesMiddleware
from api.consistency import remember_write
from api.deps import Services
from api.login_limits import LoginLimits
from api.notifications import Notifications
from api.observability import ObservabilityMiddleware
from api.openapi import EXPOSED_HEADERS, install_problem_openapi, operation_id
from api.problems import install_problem_handlers
from api.ranked import RankedTimeline
from api.rate_limits import WriteLimits
from api.routes import (
    auth,
    health,
    media,
    notifications,
    objects,
    people,
    safety,
    streaming,
    timeline,
    trends,
    tweets,
    users,
    web,
)
from api.routes import search as search_routes
from api.security import DeletedAccounts, Passwords, Tokens
from api.streaming import LiveHub
from api.timelines import Timelines
from commands.media_keys import MediaKeys
from commands.media_sweeper import MediaSweeper
from commands.postgres_write_model import PostgresWriteModel
from commands.runner import CommandRunner
from infra.embedded_object_store import OBJECTS_PATH
from infra.kafka_security import kafka_python_security
from infra.lockouts import LockoutPolicy, MemoryLockouts
from infra.metrics import worker_started, worker_stopping
from infra.object_stores import object_store
from infra.processes import die_with_parent
from infra.redis_lockouts import RedisLockouts
from infra.settings import Settings, get_settings
from projections.ranker_models import PublishedModel
from projections.ranking import HalfLives
from projections.read_models import build_read_models, open_read_models, search_index
from projections.search import SearchIndex
from projections.targets import ReadModel, TargetWatcher
from streams.ids import SnowflakeIds
from streams.producer import EventProducer
from streams.topics import topic_registry

log = logging.getLogger("chirp.api")

# Requests under way when a read model switches finish on the old generation within this.
SWITCH_GRACE_SECONDS = 5.0


async def _close_later(index: SearchIndex) -> None:
    """Close a search generation no longer served, once requests under way on it are done."""
    try:
        await asyncio.sleep(SWITCH_GRACE_SECONDS)
    finally:
        await index.close()


def _login_limits(settings: Settings) -> tuple[LoginLimits, RedisLockouts]:
    """The login limits, counted in Redis (beside the write limits, under no read model's
    prefix), and in this process while Redis does not answer; and the Redis client to close."""
    policy = LockoutPolicy(
        settings.login_failure_window_seconds,
        settings.login_lockout_seconds,
        settings.login_lockout_max_seconds,
    )
    shared = RedisLockouts.connect(settings, f"{settings.redis_prefix}rate-limits:logins:", policy)
    return LoginLimits(settings, shared=shared, local=MemoryLockouts(policy)), shared


def create_served_app() -> FastAPI:
    """The app as `python -m api` serves it. A worker process of uvicorn's (CHIRP_API_WORKERS
    > 1) ends with uvicorn's supervisor however that ends: the supervisor stops its workers
    only when it is asked to stop, not when it is killed."""
    supervisor = multiprocessing.parent_process()
    if supervisor is not None and supervisor.pid is not None:
        die_with_parent(signal.SIGKILL, supervisor.pid)
    return create_app()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The REST API wired to the servers that `settings` names."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        producer = await asyncio.to_thread(
            EventProducer,
            settings.bootstrap_servers,
            topic_registry(settings),
            settings.produce_timeout_ms,
            kafka_python_security(settings),
        )
        async with open_read_models(settings) as models:
            search = search_index(models.settings)
            await search.setup()
            write_model = PostgresWriteModel(
                models.pool,
                settings.archive_schema if settings.outbox_until_archived else None,
                settings.deleted_username_hold_days,
            )
            ids = SnowflakeIds(await write_model.allocate_worker_id())
            secret = settings.jwt_secret
            if not secret:
                log.warning("CHIRP_JWT_SECRET is unset: tokens die with this process")
                secret = secrets.token_urlsafe(48)
            limits = WriteLimits(settings)
            store = object_store(settings, secret)
            await store.setup()
            logins, lockouts = _login_limits(settings)
            live = LiveHub(
                models.live, settings.stream_buffer_events, settings.stream_heartbeat_seconds
            )
            await live.start()
            published = PublishedModel(models.pool)
            await published.refresh()
            app.state.services = Services(
                settings=settings,
                write_model=write_model,
                commands=CommandRunner(
                    write_model,
                    producer,
                    ids,
                    after_ack=partial(remember_write, models.progress),
                    limits=limits,
                ),
                tokens=Tokens(secret, settings.jwt_ttl_seconds),
                deleted_accounts=DeletedAccounts(write_model.deleted),
                passwords=Passwords(settings.password_time_cost, settings.password_memory_kib),
                limits=limits,
                logins=logins,
                readiness_checks={
                    "postgres": write_model.ping,
                    "redis": models.redis.ping,
                    "kafka": lambda: asyncio.to_thread(producer.ping),
                    # the index in use now: a replay may switch it
                    "search": lambda: app.state.services.search.ping(),
                },
                models=models,
                timelines=(timelines := Timelines(models)),
                ranked=RankedTimeline(timelines, published, HalfLives.of_settings(settings)),
                notifications=Notifications(models, timelines.hydrator),
                search=search,
                live=live,
                objects=store,
            )
            services = app.state.services
            retired: set[asyncio.Task] = set()
            relay = asyncio.create_task(services.commands.relay_forever())
            fanning_out = asyncio.create_task(live.run())
            sweeper = MediaSweeper(
                write_model,
                store,
                MediaKeys(settings.jwt_secret),
                services.commands,
                settings.media_orphan_seconds,
                settings.media_delete_grace_seconds,
                settings.media_sweep_seconds,
            )
            sweeping = asyncio.create_task(sweeper.sweep_forever())
            following_models = asyncio.create_task(published.follow())

            async def switch(current: Settings, switched: set[str]) -> None:
                """Serve the read models' new generations: later requests read them,
                requests under way finish on the old ones (dropped only after a grace)."""
                if ReadModel.SEARCH in switched:
                    fresh = search_index(current)
                    await fresh.setup()
                    old, services.search = services.search, fresh
                    closing = asyncio.create_task(_close_later(old))
                    retired.add(closing)
                    closing.add_done_callback(retired.discard)
                models_now = build_read_models(current, models.pool, models.redis)
                services.models, services.timelines = models_now, Timelines(models_now)
                services.ranked = RankedTimeline(
                    services.timelines, published, HalfLives.of_settings(current)
                )
                services.notifications = Notifications(models_now, services.timelines.hydrator)

            watcher = asyncio.create_task(TargetWatcher(models.pool, models.settings, switch).run())
            worker_started()
            try:
                yield
            finally:
                worker_stopping()
                watcher.cancel()
                relay.cancel()
                fanning_out.cancel()
                sweeping.cancel()
                following_models.cancel()
                try:  # what was acknowledged leaves the outbox now, not at the next start
                    await services.commands.confirm_acknowledged()
                except Exception as error:  # noqa: BLE001 - sent again later, applied once
                    log.warning("acknowledged events left in the outbox: %s", error)
                for closing in list(retired):
                    closing.cancel()
                await services.search.close()
                await lockouts.close()
                await asyncio.to_thread(producer.close)

    app = FastAPI(
        generate_unique_id_function=operation_id,
        title="Chirp API",
        version="1.0",
        description="Event-sourced Twitter-like backend: every write is an event on Kafka.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    install_problem_openapi(app)
    routes = (
        people,
        users,
        auth,
        tweets,
        media,
        objects,
        timeline,
        notifications,
        safety,
        streaming,
        search_routes,
        trends,
        health,
        web,
    )
    for module in routes:
        app.include_router(module.router)
    web.mount_assets(app)
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, exempt_prefix=OBJECTS_PATH
    )
    app.add_middleware(SingleQueryValuesMiddleware)
    origins = [origin.strip() for origin in settings.cors_origins.split(",") if origin.strip()]
    if origins:
        # Tokens travel in the Authorization header, not cookies: no credentials mode.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
    app.add_middleware(ObservabilityMiddleware, access_log=settings.access_log)
    return app
