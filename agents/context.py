"""What every agent works with: the read models, opened once per worker process."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass

from infra.read_models import ReadModels, open_read_models, search_index
from infra.settings import Settings
from projections.fanout import CelebrityThreshold
from projections.search import SearchIndex
from streams.archive import PostgresArchive


@dataclass
class AgentContext:
    settings: Settings
    models: ReadModels
    threshold: CelebrityThreshold
    search: SearchIndex  # this process holds the index's one writer
    archive: PostgresArchive


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
                models = await opened.enter_async_context(open_read_models(settings, setup=True))
                search = search_index(settings, writable=True)
                opened.push_async_callback(search.close)
                await search.setup()
                _context = AgentContext(
                    settings=settings, models=models,
                    threshold=CelebrityThreshold(settings.celebrity_threshold,
                                                 settings.celebrity_threshold_lowered,
                                                 settings.fanout_lag_bound_seconds),
                    search=search,
                    archive=PostgresArchive(models.pool, settings.archive_schema))
                _resources.push_async_callback(opened.pop_all().aclose)
    return _context


async def close_agent_context() -> None:
    global _context
    await _resources.aclose()
    _context = None
