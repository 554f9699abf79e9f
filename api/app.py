"""The API's composition root: builds the adapters from Settings and hands them to the routes."""

from __future__ import annotations

import asyncio
import logging
import secrets
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from api.body_limits import BodyLimitMiddleware
from api.commands import CommandRunner
from api.consistency import remember_write
from api.deps import Services
from api.problems import install_problem_handlers
from api.routes import auth, health, timeline, trends, tweets, users
from api.routes import search as search_routes
from api.security import Passwords, Tokens
from api.timelines import Timelines
from infra.bootstrap import topic_registry
from infra.read_models import build_read_models, open_read_models, search_index
from infra.targets import TargetWatcher
from infra.settings import Settings, get_settings
from projections.postgres_write_model import PostgresWriteModel
from streams.ids import SnowflakeIds
from streams.producer import EventProducer

log = logging.getLogger("chirp.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The REST API wired to the servers that `settings` names."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        producer = await asyncio.to_thread(
            EventProducer, settings.bootstrap_servers, topic_registry(settings),
            settings.produce_timeout_ms)
        async with open_read_models(settings) as models:
            search = search_index(settings)
            await search.setup()
            write_model = PostgresWriteModel(models.pool)
            ids = SnowflakeIds(await write_model.allocate_worker_id())
            secret = settings.jwt_secret
            if not secret:
                log.warning("CHIRP_JWT_SECRET is unset: tokens die with this process")
                secret = secrets.token_urlsafe(48)
            app.state.services = Services(
                settings=settings,
                write_model=write_model,
                commands=CommandRunner(write_model, producer, ids, after_ack=partial(
                    remember_write, models.cache)),
                tokens=Tokens(secret, settings.jwt_ttl_seconds),
                passwords=Passwords(settings.password_time_cost, settings.password_memory_kib),
                readiness_checks={"postgres": write_model.ping, "redis": models.redis.ping,
                                  "kafka": lambda: asyncio.to_thread(producer.ping)},
                models=models,
                timelines=Timelines(models),
                search=search,
            )
            services = app.state.services

            async def switch_core(generation: int) -> None:
                """Serve the core read models' new generation: later requests read it,
                requests under way finish on the old one (dropped only after a grace)."""
                fresh = build_read_models(
                    settings.model_copy(update={"core_generation": generation}),
                    models.pool, models.redis)
                services.models, services.timelines = fresh, Timelines(fresh)

            watcher = asyncio.create_task(TargetWatcher(
                models.pool, settings.read_schema, models.settings.core_generation,
                switch_core).run())
            try:
                yield
            finally:
                watcher.cancel()
                await search.close()
                await asyncio.to_thread(producer.close)

    app = FastAPI(
        title="Chirp API",
        version="1.0",
        description="Event-sourced Twitter-like backend: every write is an event on Kafka.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    for module in (users, auth, tweets, timeline, search_routes, trends, health):
        app.include_router(module.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    return app
