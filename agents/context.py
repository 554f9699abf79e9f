"""What every agent works with: the read models, opened once per worker process."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from agents import search_writer
from infra.metrics import SEARCH_WRITER
from infra.settings import Settings
from projections import targets
from projections.fanout import CelebrityThreshold
from projections.read_models import ReadModels, open_read_models
from projections.redis_agent_workers import RedisAgentWorkers
from projections.search import SearchIndex
from streams.archive import PostgresArchive


@dataclass
class AgentContext:
    settings: Settings
    models: ReadModels  # the generations in use: replaced when a replay switches one
    # A replay's context holds only what its read model writes with (operations/replay.py):
    # no archive, no threshold for search, no index for the core read models.
    threshold: CelebrityThreshold | None
    # The index this worker writes; None in a core replay's context, and in a live worker
    # standing by for tantivy's one writer (agents/search_writer.py).
    search: SearchIndex | None
    archive: PostgresArchive | None
    # Whether batches are told to connected readers (docs/streaming.md): the live worker's
    # are; a replay's, which re-apply the past, are not.
    publishes_live: bool = False
    # Per read model (core, search, trends): open unless a replay is taking it over
    # (handover, below), and the batches being applied to it now.
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    busy: dict[str, int] = field(default_factory=dict)
    # A live worker's name among the deployment's workers, and where they are recorded
    # (agents/handover.py); the generation each read model is paused for, if it is.
    worker: str = ""
    workers: RedisAgentWorkers | None = None
    paused_for: dict[str, int] = field(default_factory=dict)
    # Set once this worker writes the search index: its search consumer runs from then on.
    search_writer: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        for read_model in targets.READ_MODELS:
            self.gates[read_model] = asyncio.Event()
            self.gates[read_model].set()
            self.busy[read_model] = 0
        if self.search is not None:
            self.search_writer.set()

    @asynccontextmanager
    async def applying(self, read_model: str):
        """Around a batch applied to `read_model`: waits while a replay takes it over; a
        pause is answered only once no batch is under way."""
        await self.gates[read_model].wait()
        self.busy[read_model] += 1
        try:
            yield
        finally:
            self.busy[read_model] -= 1


log = logging.getLogger("chirp.agents")

_context: AgentContext | None = None
_opening = asyncio.Lock()
_resources = AsyncExitStack()


async def agent_context(settings: Settings) -> AgentContext:
    """The worker's context, opened by the first agent that asks."""
    global _context
    async with _opening:
        if _context is None:
            # Opened whole or not at all: a failure leaves nothing open behind (Faust
            # restarts a crashed agent, which would open it all again).
            async with AsyncExitStack() as opened:
                # No read timeout: an agent would only retry a slow Redis, and a timeout
                # armed for every reply of a batch's pipeline cost 5% of the worker's CPU.
                models = await opened.enter_async_context(
                    open_read_models(settings, setup=True, redis_read_timeout=None)
                )
                search = None
                if search_writer.elect(models.settings):
                    search = await search_writer.open_writable(models.settings)
                else:
                    log.info(
                        "the search index %s is written by %s: this worker stands by to "
                        "take it over",
                        models.settings.search_directory,
                        search_writer.describe_writer(models.settings),
                    )
                SEARCH_WRITER.set(1 if search is not None else 0)
                # The index in use then: a replay may have switched it, a standby taken it.
                opened.push_async_callback(_close_search, search)
                _context = AgentContext(
                    settings=settings,
                    models=models,
                    threshold=CelebrityThreshold(
                        settings.celebrity_threshold,
                        settings.celebrity_threshold_lowered,
                        settings.fanout_lag_bound_seconds,
                    ),
                    search=search,
                    archive=PostgresArchive(models.pool, settings.archive_schema),
                    publishes_live=True,
                    worker=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
                    workers=RedisAgentWorkers(models.redis, models.keys, settings.agent_group),
                )
                # Closed until this worker has joined the deployment's workers and seen that
                # no handover is under way (agents/handover.py): a worker started during one
                # must not apply to the generation being replaced.
                for gate in _context.gates.values():
                    gate.clear()
                _resources.push_async_callback(opened.pop_all().aclose)
    return _context


async def _close_search(opened_first: SearchIndex | None) -> None:
    index = _context.search if _context is not None else opened_first
    if index is not None:
        await index.close()


async def close_agent_context() -> None:
    global _context
    await _resources.aclose()
    _context = None
