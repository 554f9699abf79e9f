"""What every agent works with: the read models, opened once per worker process."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass

from infra.read_models import ReadModels, open_read_models
from infra.settings import Settings
from projections.fanout import CelebrityThreshold


@dataclass
class AgentContext:
    settings: Settings
    models: ReadModels
    threshold: CelebrityThreshold


_context: AgentContext | None = None
_opening = asyncio.Lock()
_resources = AsyncExitStack()


async def agent_context(settings: Settings) -> AgentContext:
    """The worker's context, opened by the first agent that asks."""
    global _context
    async with _opening:
        if _context is None:
            models = await _resources.enter_async_context(open_read_models(settings, setup=True))
            _context = AgentContext(
                settings=settings, models=models,
                threshold=CelebrityThreshold(settings.celebrity_threshold,
                                             settings.celebrity_threshold_lowered,
                                             settings.fanout_lag_bound_seconds))
    return _context


async def close_agent_context() -> None:
    global _context
    await _resources.aclose()
    _context = None
